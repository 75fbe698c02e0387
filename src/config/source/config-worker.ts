/**
 * Entry of the config loader thread (started by `workerConfigLoader`, one per load): runs
 * the {@link LoadRequest} in `workerData` and posts the result. Parsing and validating a
 * big config takes seconds (the yaml package reads about 1 MB/s); here it never blocks the
 * event loop that answers requests.
 */
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { type LoadRequest, runLoadJob } from './load-job.js';

/**
 * On Linux the nice value is per thread, and pid 0 names the calling one: this thread
 * yields the CPU to the serving thread when cores are short. Elsewhere it may apply to the
 * whole process or fail; either way loading still works.
 */
const LOADER_NICE = 10;

const port = parentPort;
if (port !== null) {
  if (process.platform === 'linux') {
    try {
      setPriority(LOADER_NICE);
    } catch {
      // not permitted (e.g. already nicer); load at the inherited priority
    }
  }
  await runLoadJob(workerData as LoadRequest, (message) => port.postMessage(message));
}
