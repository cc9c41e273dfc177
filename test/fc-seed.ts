/**
 * The seed of every fast-check property in the tests: the same inputs on every run (`npm test` is
 * reproducible). A failure prints its seed and path; to explore other inputs, change it here.
 */
export const FC_SEED = 20_261_204;
