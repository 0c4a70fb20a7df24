// Inputs of the usage procedures (docs/api.md).
import { z } from 'zod';

export const ZUsageDailyInput = z.object({ days: z.number().int().min(1).max(90).default(30) }).optional();
