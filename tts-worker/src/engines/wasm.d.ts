// Node has the WebAssembly global, but without the DOM library TypeScript only knows its
// types, not its functions. These are the two the espeak engine calls.
declare namespace WebAssembly {
  function compile(bytes: Uint8Array): Promise<Module>;
  function instantiate(module: Module, imports?: Imports): Promise<Instance>;
}
