import { describe, expect, it } from 'vitest';
import { TtsWorkerProcess } from './worker-process.ts';

describe('the environment of the worker npm start runs', () => {
  it("passes its TTS_* settings, never the server's secrets nor the other engine's key", () => {
    const worker = new TtsWorkerProcess({
      script: '/nowhere/server.js',
      secret: 'worker-secret',
      parentEnv: {
        PATH: '/usr/bin',
        TTS_THREADS: '1',
        TTS_MAX_QUEUE: '4',
        TTS_ENGINE: 'espeak-ng',
        TTS_BASE_URL: 'https://api.openai.com/v1',
        TTS_API_KEY: 'sk-speech',
        TTS_MODEL: 'tts-1',
        TTS_VOICES: 'alloy',
        TTS_WORKER_PORT: '9999',
        OPENAI_API_KEY: 'sk-chat',
        DATABASE_URL: 'postgres://secret@db/chatmeter',
        STRIPE_SECRET_KEY: 'sk_live_x',
      },
    });
    expect(worker.childEnv()).toEqual({
      PATH: '/usr/bin',
      TTS_THREADS: '1',
      TTS_MAX_QUEUE: '4',
      TTS_LOG_LEVEL: 'info',
      TTS_WORKER_HOST: '127.0.0.1',
      TTS_WORKER_PORT: '0',
      TTS_WORKER_SECRET: 'worker-secret',
    });
  });
});
