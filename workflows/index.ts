export { batchDrain } from './batch-drain.js';
