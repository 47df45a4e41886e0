// What a handler reads off a value something below it threw: narrowed once, in common/errors.ts.

export { errorCode, errorMessage } from '../../common/errors.js';
