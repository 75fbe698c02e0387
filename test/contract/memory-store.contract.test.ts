import { MemoryCounterStore } from '../../src/storage/memory-store.js';
import { runCounterStoreContract } from './counter-store-contract.js';

runCounterStoreContract(
  'memory',
  ({ stopIncrementWhenOverLimit }) => new MemoryCounterStore({ stopIncrementWhenOverLimit }),
);
