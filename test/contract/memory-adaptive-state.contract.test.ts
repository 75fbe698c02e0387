import { createMemoryAdaptiveState } from '../../src/adaptive/memory-adaptive-state.js';
import { runAdaptiveStateContract } from './adaptive-state-contract.js';

// scope 'process': both "replicas" are the one store
runAdaptiveStateContract('memory', async (options) => {
  const store = createMemoryAdaptiveState(options);
  return { first: store, second: store };
});
