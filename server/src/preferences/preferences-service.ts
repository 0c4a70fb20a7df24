// Server-side preferences: whether quota alerts are also e-mailed. (Theme,
// default model, voice and auto-play are the browser's, in localStorage.)
import type { PrismaClient } from '@chatmeter/db/client';
import type { TPreferences } from '@chatmeter/shared/alerts';

export const DEFAULT_PREFERENCES: TPreferences = { alertEmails: true };

export class PreferencesService {
  constructor(private readonly prisma: PrismaClient) {}

  async get(userId: string): Promise<TPreferences> {
    const row = await this.prisma.userPreference.findUnique({ where: { userId }, select: { alertEmails: true } });
    return row ?? DEFAULT_PREFERENCES;
  }

  async update(userId: string, input: TPreferences): Promise<TPreferences> {
    return this.prisma.userPreference.upsert({
      where: { userId },
      create: { userId, alertEmails: input.alertEmails },
      update: { alertEmails: input.alertEmails, updatedAt: new Date() },
      select: { alertEmails: true },
    });
  }
}
