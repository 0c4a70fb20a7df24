// The espeak-ng package ships an Emscripten ES module without types; this covers what we use.
declare module 'espeak-ng' {
  interface EmscriptenFS {
    readFile(path: string): Uint8Array;
    readFile(path: string, opts: { encoding: 'utf8' }): string;
    writeFile(path: string, data: string | Uint8Array): void;
    unlink(path: string): void;
    analyzePath(path: string): { exists: boolean };
  }
  export interface ESpeakNgModule {
    FS: EmscriptenFS;
    HEAPU8: Uint8Array;
    /** Address of Emscripten's table of embedded files: (name, length, content) entries. */
    ___emscripten_embedded_file_data?: number;
  }
  export interface ESpeakNgOptions {
    arguments?: string[];
    noInitialRun?: boolean;
    print?: (line: string) => void;
    printErr?: (line: string) => void;
    instantiateWasm?: (imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) => object;
  }
  const ESpeakNg: (options?: ESpeakNgOptions) => Promise<ESpeakNgModule>;
  export default ESpeakNg;
}
