export { mulberry32 } from '../../src/util/mulberry32.js';
