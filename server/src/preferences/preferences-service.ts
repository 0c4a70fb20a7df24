// Preferences kept with the account: whether quota alerts are also e-mailed, the
// user's own monthly spending limit (the wallet reads it when reserving), and
// the theme, default model, voice and auto-play that follow the user to any
// browser (the browser keeps a copy in localStorage, a guest's only store).
import type { PrismaClient } from '@chatmeter/db/client';
import type { TPreferences, TPreferencesUpdate, TTheme } from '@chatmeter/shared/preferences';

export const DEFAULT_PREFERENCES: TPreferences = {
  alertEmails: true,
  theme: 'system',
  defaultModel: null,
  voice: null,
  autoPlay: false,
  monthlySpendLimitMicroUsd: null,
  clientPrefsSavedAt: null,
};

const preferenceSelect = {
  alertEmails: true,
  theme: true,
  defaultModel: true,
  voice: true,
  autoPlay: true,
  monthlySpendLimitMicroUsd: true,
  clientPrefsSavedAt: true,
} as const;

type Row = {
  alertEmails: boolean;
  theme: string;
  defaultModel: string | null;
  voice: string | null;
  autoPlay: boolean;
  monthlySpendLimitMicroUsd: bigint | null;
  clientPrefsSavedAt: Date | null;
};

function toPreferences(row: Row): TPreferences {
  // The column's CHECK constraint allows only these three themes; the limit is a safe integer (the input schema's bound).
  return {
    ...row,
    theme: row.theme as TTheme,
    monthlySpendLimitMicroUsd: row.monthlySpendLimitMicroUsd === null ? null : Number(row.monthlySpendLimitMicroUsd),
  };
}

export class PreferencesService {
  constructor(private readonly prisma: PrismaClient) {}

  async get(userId: string): Promise<TPreferences> {
    const row = await this.prisma.userPreference.findUnique({ where: { userId }, select: preferenceSelect });
    return row ? toPreferences(row) : DEFAULT_PREFERENCES;
  }

  /** Changes only the fields given; one upsert, so two browsers saving at once cannot lose the row. */
  async update(userId: string, input: TPreferencesUpdate, now = new Date()): Promise<TPreferences> {
    const data: Partial<Row> = {};
    if (input.alertEmails !== undefined) data.alertEmails = input.alertEmails;
    if (input.theme !== undefined) data.theme = input.theme;
    if (input.defaultModel !== undefined) data.defaultModel = input.defaultModel;
    if (input.voice !== undefined) data.voice = input.voice;
    if (input.autoPlay !== undefined) data.autoPlay = input.autoPlay;
    if (input.monthlySpendLimitMicroUsd !== undefined) {
      data.monthlySpendLimitMicroUsd = input.monthlySpendLimitMicroUsd === null ? null : BigInt(input.monthlySpendLimitMicroUsd);
    }
    const clientPrefs = input.theme !== undefined || input.defaultModel !== undefined || input.voice !== undefined || input.autoPlay !== undefined;
    if (clientPrefs) data.clientPrefsSavedAt = now;
    const row = await this.prisma.userPreference.upsert({
      where: { userId },
      create: { userId, ...data, updatedAt: now },
      update: { ...data, updatedAt: now },
      select: preferenceSelect,
    });
    return toPreferences(row);
  }
}
