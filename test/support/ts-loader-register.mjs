// `node --import` entry: registers ts-loader-hooks.mjs (see there).
import { register } from 'node:module';

register(new URL('./ts-loader-hooks.mjs', import.meta.url));
