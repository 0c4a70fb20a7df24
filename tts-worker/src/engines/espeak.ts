import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import ESpeakNg, { type ESpeakNgModule } from 'espeak-ng';
import { EngineError, RATE_LIMITS, type SynthesisOutput, type SynthesisRequest, type TtsEngine, type Voice } from './engine.ts';

/**
 * eSpeak NG (the `espeak-ng` npm package: the C program compiled to WASM with its data
 * files embedded).
 *
 * The package only exposes the command-line `main()`. Starting a fresh module for every
 * call costs 80-230 ms (most of it building the in-memory file system of 18 MB of voice
 * data), while the synthesis itself takes ~10 ms per sentence. So each thread keeps one
 * instance and calls `main()` again for every request. `main()` leaves global state
 * behind (getopt's `optind`, the heap, the wave generator), which made repeated calls
 * produce different audio or none at all; restoring a copy of the linear memory taken
 * right after start-up puts every C global back, so each call behaves exactly like the
 * first call of a fresh instance (a test checks the bytes are identical). The memory is
 * fixed at 32 MB (the build does not allow growth); 18 MB of it are the embedded data
 * files, which the file system serves straight from WASM memory and espeak only reads,
 * so only the other ~15 MB are copied back. `dataIntact()` lets a test check
 * that the skipped part really stays untouched.
 */

interface WasmExports {
  malloc(size: number): number;
  __main_argc_argv(argc: number, argv: number): number;
  stackSave(): number;
  stackRestore(pointer: number): void;
}

interface EspeakInstance {
  module: ESpeakNgModule;
  exports: WasmExports;
  /** The writable parts of the start-up memory, put back before every call. */
  snapshot: MemoryRange[];
  /** The embedded voice data files: read, never written, so never copied. */
  readOnly: Array<[start: number, end: number]>;
  readOnlyDigest: string;
  stderr: string[];
}

interface MemoryRange {
  offset: number;
  bytes: Uint8Array;
}

const require = createRequire(import.meta.url);
const IN_FILE = '/tts-in.txt';
const OUT_FILE = '/tts-out.wav';

// The module is compiled once per thread and instantiated from the compiled copy.
let compiled: Promise<WebAssembly.Module> | undefined;
function compiledModule(): Promise<WebAssembly.Module> {
  compiled ??= readFile(path.join(path.dirname(require.resolve('espeak-ng')), 'espeak-ng.wasm')).then((bytes) => WebAssembly.compile(bytes));
  return compiled;
}

let packageVersion: string | undefined;
function espeakPackageVersion(): string {
  packageVersion ??= (JSON.parse(readFileSync(require.resolve('espeak-ng/package.json'), 'utf8')) as { version: string }).version;
  return packageVersion;
}

type BaseVoice = { id: string; name: string; language: string; variants: readonly string[] };

const VARIANT_NAMES: Record<string, string> = {
  f1: 'female 1',
  f2: 'female 2',
  f3: 'female 3',
  f4: 'female 4',
  m1: 'male 1',
  m2: 'male 2',
  m3: 'male 3',
  m7: 'male 7',
  whisper: 'whisper',
};

// A curated subset of what the embedded data supports: every id here is exercised by a test.
const BASE_VOICES: readonly BaseVoice[] = [
  { id: 'en-us', name: 'English (America)', language: 'en-US', variants: ['f2', 'f3', 'f4', 'm2', 'm3', 'm7', 'whisper'] },
  { id: 'en-gb', name: 'English (Great Britain)', language: 'en-GB', variants: ['f2', 'f3', 'f4', 'm3', 'm7'] },
  { id: 'en-gb-x-rp', name: 'English (Received Pronunciation)', language: 'en-GB', variants: [] },
  { id: 'en-gb-scotland', name: 'English (Scotland)', language: 'en-GB', variants: [] },
  { id: 'en-us-nyc', name: 'English (America, New York City)', language: 'en-US', variants: [] },
  { id: 'en-029', name: 'English (Caribbean)', language: 'en-029', variants: [] },
  { id: 'de', name: 'German', language: 'de', variants: ['f3', 'm3'] },
  { id: 'fr', name: 'French (France)', language: 'fr-FR', variants: ['f3', 'm3'] },
  { id: 'es', name: 'Spanish (Spain)', language: 'es-ES', variants: ['f3', 'm3'] },
  { id: 'es-419', name: 'Spanish (Latin America)', language: 'es-419', variants: ['f3'] },
  { id: 'it', name: 'Italian', language: 'it', variants: ['f3', 'm3'] },
  { id: 'pt', name: 'Portuguese (Portugal)', language: 'pt-PT', variants: [] },
  { id: 'pt-br', name: 'Portuguese (Brazil)', language: 'pt-BR', variants: ['f3'] },
  { id: 'nl', name: 'Dutch', language: 'nl', variants: ['f3'] },
  { id: 'sv', name: 'Swedish', language: 'sv', variants: [] },
  { id: 'da', name: 'Danish', language: 'da', variants: [] },
  { id: 'nb', name: 'Norwegian Bokmål', language: 'nb', variants: [] },
  { id: 'fi', name: 'Finnish', language: 'fi', variants: [] },
  { id: 'pl', name: 'Polish', language: 'pl', variants: [] },
  { id: 'cs', name: 'Czech', language: 'cs', variants: [] },
  { id: 'ru', name: 'Russian', language: 'ru', variants: [] },
  { id: 'uk', name: 'Ukrainian', language: 'uk', variants: [] },
  { id: 'el', name: 'Greek', language: 'el', variants: [] },
  { id: 'tr', name: 'Turkish', language: 'tr', variants: [] },
  { id: 'hi', name: 'Hindi', language: 'hi', variants: [] },
  { id: 'id', name: 'Indonesian', language: 'id', variants: [] },
  { id: 'vi', name: 'Vietnamese (Northern)', language: 'vi', variants: [] },
];

const VOICES: readonly Voice[] = BASE_VOICES.flatMap((base) => [
  { id: base.id, name: base.name, language: base.language },
  ...base.variants.map((variant) => ({
    id: `${base.id}+${variant}`,
    name: `${base.name}, ${VARIANT_NAMES[variant] ?? variant}`,
    language: base.language,
  })),
]);
const VOICE_IDS = new Set(VOICES.map((voice) => voice.id));

export class EspeakEngine implements TtsEngine {
  readonly id = 'espeak-ng';
  private instance: Promise<EspeakInstance> | undefined;
  private readonly encoder = new TextEncoder();

  get version(): string {
    return espeakPackageVersion();
  }

  voices(): Voice[] {
    return VOICES.map((voice) => ({ ...voice }));
  }

  async warmUp(): Promise<void> {
    // One real call also warms the JIT for the synthesis path.
    await this.synthesize({ text: 'Ready.', voice: 'en-us', rate: RATE_LIMITS.default });
  }

  async synthesize({ text, voice, rate }: SynthesisRequest): Promise<SynthesisOutput> {
    if (!VOICE_IDS.has(voice)) throw new EngineError(`unknown voice "${voice}"`);
    const wpm = Math.round(Math.min(RATE_LIMITS.max, Math.max(RATE_LIMITS.min, rate)));
    const instance = await this.getInstance();
    const { FS } = instance.module;
    // The text goes through a file, never argv, so a text starting with "-" cannot be
    // read as an option.
    FS.writeFile(IN_FILE, text.replaceAll('\0', ' '));
    try {
      const status = this.runMain(instance, ['-v', voice, '-s', String(wpm), '-w', OUT_FILE, '-f', IN_FILE]);
      if (status !== 0) {
        throw new EngineError(`espeak-ng exited with status ${status}: ${instance.stderr.join(' ').slice(0, 300)}`);
      }
      if (!FS.analyzePath(OUT_FILE).exists) {
        // Nothing speakable (e.g. only punctuation): espeak never opens the output.
        return { pcm: new Int16Array(0), sampleRate: 22_050 };
      }
      return parseWav(FS.readFile(OUT_FILE));
    } finally {
      for (const file of [IN_FILE, OUT_FILE]) {
        if (FS.analyzePath(file).exists) FS.unlink(file);
      }
    }
  }

  private getInstance(): Promise<EspeakInstance> {
    this.instance ??= createInstance().catch((err: unknown) => {
      this.instance = undefined;
      throw err;
    });
    return this.instance;
  }

  /** Diagnostics for tests: true when the never-restored data files are unchanged. */
  async dataIntact(): Promise<boolean> {
    const instance = await this.getInstance();
    return digestRanges(instance.module.HEAPU8, instance.readOnly) === instance.readOnlyDigest;
  }

  private runMain(instance: EspeakInstance, args: string[]): number {
    const { module, exports, snapshot } = instance;
    for (const range of snapshot) module.HEAPU8.set(range.bytes, range.offset);
    instance.stderr.length = 0;
    const stackPointer = exports.stackSave();
    try {
      const argv = ['espeak-ng', ...args];
      const argvPointer = exports.malloc(4 * (argv.length + 1));
      const view = new DataView(module.HEAPU8.buffer);
      argv.forEach((arg, index) => {
        const bytes = this.encoder.encode(arg);
        const pointer = exports.malloc(bytes.length + 1);
        module.HEAPU8.set(bytes, pointer);
        module.HEAPU8[pointer + bytes.length] = 0;
        view.setUint32(argvPointer + 4 * index, pointer, true);
      });
      view.setUint32(argvPointer + 4 * argv.length, 0, true);
      return exports.__main_argc_argv(argv.length, argvPointer);
    } catch (err) {
      // exit(n) inside main() arrives as Emscripten's ExitStatus; the instance stays usable.
      if (err && typeof err === 'object' && (err as { name?: unknown }).name === 'ExitStatus') {
        return Number((err as { status?: unknown }).status ?? 1);
      }
      // A trap (abort, out of memory) leaves the module in an unknown state: start a new one.
      this.instance = undefined;
      throw new EngineError(`espeak-ng crashed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      exports.stackRestore(stackPointer);
    }
  }
}

async function createInstance(): Promise<EspeakInstance> {
  const wasmModule = await compiledModule();
  const stderr: string[] = [];
  let exports: WasmExports | undefined;
  let failInstantiate: (err: unknown) => void = () => {};
  const instantiateFailed = new Promise<never>((_, reject) => {
    failInstantiate = reject;
  });
  const module = await Promise.race([
    ESpeakNg({
      noInitialRun: true,
      print: () => {},
      printErr: (line) => {
        if (stderr.length < 20) stderr.push(line);
      },
      instantiateWasm: (imports, receive) => {
        WebAssembly.instantiate(wasmModule, imports).then((instance) => {
          exports = instance.exports as unknown as WasmExports;
          receive(instance, wasmModule);
        }, failInstantiate);
        return {};
      },
    }),
    instantiateFailed,
  ]);
  if (!exports) throw new EngineError('espeak-ng module started without exports');
  const heap = module.HEAPU8;
  const readOnly = embeddedFileRanges(module);
  const snapshot: MemoryRange[] = [];
  let cursor = 0;
  for (const [start, end] of [...readOnly, [heap.length, heap.length] as [number, number]]) {
    if (start > cursor) snapshot.push({ offset: cursor, bytes: heap.slice(cursor, start) });
    cursor = Math.max(cursor, end);
  }
  return { module, exports, snapshot, readOnly, readOnlyDigest: digestRanges(heap, readOnly), stderr };
}

/**
 * Where the embedded data files live in WASM memory, from Emscripten's table of
 * (name, length, content pointer) entries; sorted and merged. Empty if the table is
 * missing, in which case the whole memory is restored.
 */
function embeddedFileRanges(module: ESpeakNgModule): Array<[number, number]> {
  const table = module.___emscripten_embedded_file_data;
  if (typeof table !== 'number' || table <= 0) return [];
  const heap = module.HEAPU8;
  const view = new DataView(heap.buffer);
  const ranges: Array<[number, number]> = [];
  for (let entry = table; entry + 12 <= heap.length && view.getUint32(entry, true) !== 0; entry += 12) {
    const length = view.getUint32(entry + 4, true);
    const content = view.getUint32(entry + 8, true);
    if (length > 0 && content + length <= heap.length) ranges.push([content, content + length]);
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [start, end] of ranges) {
    const last = merged[merged.length - 1];
    if (last && start <= last[1]) last[1] = Math.max(last[1], end);
    else merged.push([start, end]);
  }
  return merged;
}

function digestRanges(heap: Uint8Array, ranges: ReadonlyArray<[number, number]>): string {
  const hash = createHash('sha256');
  for (const [start, end] of ranges) hash.update(heap.subarray(start, end));
  return hash.digest('hex');
}

/** Reads a PCM16 mono WAV as written by espeak-ng (RIFF chunks walked, not assumed). */
export function parseWav(bytes: Uint8Array): SynthesisOutput {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (offset: number) => String.fromCharCode(...bytes.subarray(offset, offset + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new EngineError('not a WAV file');
  let sampleRate = 0;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      const formatTag = view.getUint16(body, true);
      const channels = view.getUint16(body + 2, true);
      const bits = view.getUint16(body + 14, true);
      if (formatTag !== 1 || channels !== 1 || bits !== 16) {
        throw new EngineError(`unsupported WAV format ${formatTag}/${channels}ch/${bits}bit`);
      }
      sampleRate = view.getUint32(body + 4, true);
    } else if (id === 'data') {
      const end = Math.min(bytes.length, body + size);
      const samples = (end - body) >> 1;
      if (!sampleRate) throw new EngineError('WAV data before fmt chunk');
      // A view when the samples are aligned (espeak's 44-byte header keeps them so),
      // a copy otherwise.
      const start = bytes.byteOffset + body;
      const pcm = start % 2 === 0 ? new Int16Array(bytes.buffer, start, samples) : new Int16Array(bytes.slice(body, body + samples * 2).buffer);
      return { pcm, sampleRate };
    }
    offset = body + size + (size & 1);
  }
  throw new EngineError('WAV file without data chunk');
}
