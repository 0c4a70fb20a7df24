import { useId } from 'react';
import { ApiErrorAlert } from '../../components/alerts.tsx';
import { readApiError } from '../../lib/api-error.ts';
import { THEMES, type Theme } from '../../lib/client-prefs.ts';
import { useClientPrefs } from '../../lib/use-client-prefs.ts';
import { useModels } from '../chat/chat-queries.ts';
import { VoicePicker } from '../tts/voice-picker.tsx';
import { usePreferences, useUpdatePreferences } from './use-usage-extras.ts';

const THEME_LABEL: Record<Theme, string> = { system: 'System', light: 'Light', dark: 'Dark' };

/** Theme, default model, voice and alert e-mails: kept with the account (a guest's stay in this browser). */
export function PreferencesPanel({ planId, isGuest }: { planId: string; isGuest: boolean }) {
  const id = useId();
  const [prefs, setPrefs] = useClientPrefs();
  const models = useModels(planId);
  const server = usePreferences();
  const update = useUpdatePreferences();
  const offered = models.data?.models ?? [];
  const alertEmails = update.isPending && update.variables?.alertEmails !== undefined ? update.variables.alertEmails : (server.data?.alertEmails ?? true);

  return (
    <section className="panel" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className="panel__title">
        Preferences
      </h2>
      <fieldset className="prefs__group">
        <legend className="field__label">Theme</legend>
        <div className="prefs__choices">
          {THEMES.map((theme) => (
            <label key={theme} className="prefs__choice">
              <input type="radio" name={`${id}-theme`} checked={prefs.theme === theme} onChange={() => setPrefs({ theme })} /> {THEME_LABEL[theme]}
            </label>
          ))}
        </div>
      </fieldset>
      <label className="prefs__row">
        <span className="field__label">Default model</span>
        <select
          className="prefs__select"
          value={prefs.defaultModel && offered.includes(prefs.defaultModel) ? prefs.defaultModel : ''}
          onChange={(event) => setPrefs({ defaultModel: event.target.value || null })}
          disabled={offered.length <= 1}
        >
          <option value="">The plan&apos;s first ({offered[0] ?? '…'})</option>
          {offered.map((model) => (
            <option key={model} value={model}>
              {model}
            </option>
          ))}
        </select>
      </label>
      <div className="prefs__row">
        <VoicePicker />
      </div>
      <label className="prefs__check">
        <input
          type="checkbox"
          checked={!isGuest && alertEmails}
          disabled={isGuest || server.isPending || update.isPending}
          onChange={(event) => update.mutate({ alertEmails: event.target.checked })}
        />
        <span>
          E-mail me at 80%, 90% and 100% of a limit
          <span className="muted usage-note prefs__hint">
            {isGuest ? ' Guests have no e-mail address: alerts show under the bell only.' : ' Alerts always show under the bell as well.'}
          </span>
        </span>
      </label>
      {update.error ? <ApiErrorAlert error={readApiError(update.error)} /> : null}
      <p className="muted usage-note">
        {isGuest
          ? 'As a guest, theme, model and voice are kept in this browser only; sign up to have them on every device.'
          : 'Kept with your account: every browser you sign in on uses them.'}
      </p>
    </section>
  );
}
