import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConfigFilesError,
  listConfigFiles,
  readConfigFiles,
  walkConfigRoots,
} from '../../../src/config/source/config-files.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'rl-config-files-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(rel: string, content = 'domain: x\n'): Promise<string> {
  const full = path.join(dir, rel);
  await mkdir(path.dirname(full), { recursive: true });
  await writeFile(full, content);
  return full;
}

const rel = (files: string[]): string[] => files.map((f) => path.relative(dir, f));
const visible = { ignoreDotfiles: false };
const ignoring = { ignoreDotfiles: true };

describe('listConfigFiles', () => {
  it('returns only *.yaml and *.yml files of a directory', async () => {
    await put('a.yaml');
    await put('b.yml');
    await put('c.json');
    await put('README.md');
    await put('d.yaml.bak');
    expect(rel(await listConfigFiles([dir], visible))).toEqual(['a.yaml', 'b.yml']);
  });

  it('sorts files by code unit, whatever the creation order', async () => {
    for (const name of ['zeta.yaml', 'Alpha.yaml', 'beta.yaml', 'sub/a.yaml', '_x.yaml']) await put(name);
    expect(rel(await listConfigFiles([dir], visible))).toEqual([
      'Alpha.yaml',
      '_x.yaml',
      'beta.yaml',
      'sub/a.yaml',
      'zeta.yaml',
    ]);
  });

  it('searches subdirectories recursively', async () => {
    await put('top.yaml');
    await put('a/b/c/deep.yaml');
    expect(rel(await listConfigFiles([dir], visible))).toEqual(['a/b/c/deep.yaml', 'top.yaml']);
  });

  it('follows symlinks to files and to directories, entering a symlink loop once', async () => {
    const outside = await mkdtemp(path.join(tmpdir(), 'rl-config-outside-'));
    try {
      await writeFile(path.join(outside, 'linked.yaml'), 'domain: l\n');
      await mkdir(path.join(outside, 'tree'));
      await writeFile(path.join(outside, 'tree', 'in-tree.yaml'), 'domain: t\n');
      await symlink(path.join(outside, 'linked.yaml'), path.join(dir, 'linked.yaml'));
      await symlink(path.join(outside, 'tree'), path.join(dir, 'tree'));
      await symlink(dir, path.join(dir, 'loop'));
      expect(rel(await listConfigFiles([dir], visible))).toEqual(['linked.yaml', 'tree/in-tree.yaml']);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('skips Kubernetes ..data and ..<timestamp> entries so ConfigMap files load once', async () => {
    await put('..2025_01_01_00_00_00.123/api.yaml');
    await symlink('..2025_01_01_00_00_00.123', path.join(dir, '..data'));
    await symlink('..data/api.yaml', path.join(dir, 'api.yaml'));
    expect(rel(await listConfigFiles([dir], visible))).toEqual(['api.yaml']);
    expect(rel(await listConfigFiles([dir], ignoring))).toEqual(['api.yaml']);
  });

  it('loads dotfiles and dot-directories when ignoreDotfiles is false', async () => {
    await put('.hidden.yaml');
    await put('.dir/inner.yaml');
    await put('plain.yaml');
    expect(rel(await listConfigFiles([dir], visible))).toEqual([
      '.dir/inner.yaml',
      '.hidden.yaml',
      'plain.yaml',
    ]);
  });

  it('skips dotfiles and dot-directories when ignoreDotfiles is true', async () => {
    await put('.hidden.yaml');
    await put('.dir/inner.yaml');
    await put('plain.yaml');
    expect(rel(await listConfigFiles([dir], ignoring))).toEqual(['plain.yaml']);
  });

  it('rejects a root that does not exist with an error naming it', async () => {
    const missing = path.join(dir, 'nope');
    const err = await listConfigFiles([missing], visible).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigFilesError);
    expect((err as ConfigFilesError).path).toBe(missing);
    expect((err as Error).message).toBe(`config root ${missing} does not exist`);
  });

  it('accepts a file root, whatever its extension', async () => {
    const file = await put('rules.conf');
    await put('other.yaml');
    expect(await listConfigFiles([file], visible)).toEqual([file]);
  });

  it('de-duplicates overlapping roots and symlinks to the same file', async () => {
    const a = await put('a.yaml');
    await symlink('a.yaml', path.join(dir, 'b.yaml'));
    expect(await listConfigFiles([dir, a, dir], visible)).toEqual([a]);
  });

  it('skips a dangling symlink instead of failing', async () => {
    await put('real.yaml');
    await symlink('gone.yaml', path.join(dir, 'dangling.yaml'));
    expect(rel(await listConfigFiles([dir], visible))).toEqual(['real.yaml']);
  });

  it('returns nothing for an empty directory', async () => {
    expect(await listConfigFiles([dir], visible)).toEqual([]);
  });
});

describe('walkConfigRoots', () => {
  it('reports every directory entered, skipped ones excluded', async () => {
    await put('a/x.yaml');
    await put('.git/y.yaml');
    await put('..data/z.yaml');
    const tree = await walkConfigRoots([dir], ignoring);
    expect(tree.dirs.map((d) => path.relative(dir, d))).toEqual(['', 'a']);
  });
});

describe('readConfigFiles', () => {
  it('reads each file as UTF-8 in the given order', async () => {
    const b = await put('b.yaml', 'domain: b # é\n');
    const a = await put('a.yaml', 'domain: a\n');
    expect(await readConfigFiles([b, a])).toEqual([
      { path: b, content: 'domain: b # é\n' },
      { path: a, content: 'domain: a\n' },
    ]);
  });

  it('rejects with an error naming the unreadable file', async () => {
    const missing = path.join(dir, 'gone.yaml');
    await expect(readConfigFiles([missing])).rejects.toMatchObject({
      path: missing,
      message: `config file ${missing} does not exist`,
    });
  });
});
