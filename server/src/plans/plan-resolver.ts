// The one answer to "whose limits apply to this user right now". Every quota
// check (chat, voice, alerts) and every display of the plan (auth.me,
// usage.summary, billing.status, admin.user) asks here, so they cannot disagree.
import type { TPlan } from '@chatmeter/shared/plans';

export type EmailVerificationMode = 'required' | 'off';

export interface PlanSubject {
  planId: string;
  isGuest: boolean;
  /** Null: the address was never proven (a password sign-up that has not followed its link). */
  emailVerifiedAt: Date | null;
}

export class PlanResolver {
  readonly guestPlan: TPlan;
  private readonly freePlan: TPlan;

  constructor(
    private readonly plans: readonly TPlan[],
    readonly emailVerification: EmailVerificationMode,
  ) {
    // The plan table always has both (ZPlanTable checks it).
    this.guestPlan = plans.find((p) => p.id === 'guest')!;
    this.freePlan = plans.find((p) => p.id === 'free')!;
  }

  /** The stored plan (the free plan when the id is no longer in the table). */
  private storedPlan(planId: string): TPlan {
    return this.plans.find((p) => p.id === planId) ?? this.freePlan;
  }

  /**
   * An account whose address is unproven gets no more than a guest: otherwise
   * anyone could farm free-plan quotas with made-up addresses. Only plans that
   * cost nothing are held back: a paid plan comes from a payment or an admin,
   * neither of which can be farmed (and an account that signed up while
   * verification was off keeps what it pays for when it is turned on).
   */
  limitedUntilVerified(user: PlanSubject): boolean {
    return this.emailVerification === 'required' && !user.isGuest && user.emailVerifiedAt === null && this.storedPlan(user.planId).priceMonthlyCents === 0;
  }

  planFor(user: PlanSubject): TPlan {
    if (user.isGuest || this.limitedUntilVerified(user)) return this.guestPlan;
    return this.storedPlan(user.planId);
  }
}
