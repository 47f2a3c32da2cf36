/**
 * Upstream's `torch.save` vector files (.pt): the reader and writer live in the engine
 * (src/engine/vectors/torch.ts) so that the inference worker reads every vector format the CLI does.
 */
export * from '../../engine/vectors/torch.js';
