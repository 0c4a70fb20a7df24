import { useId } from 'react';
import type { ChatModels } from './chat-queries.ts';

/** "GPT-4o mini · openai": the model's label and the provider that serves it. */
function optionLabel(item: ChatModels['items'][number]): string {
  return `${item.label} · ${item.provider}`;
}

/** The plan's models (each with its provider); with no API key configured, the offline demo model, labelled as such. */
export function ModelPicker({
  models,
  value,
  onChange,
  disabled,
}: {
  models: ChatModels | undefined;
  value: string | null;
  onChange(model: string): void;
  disabled: boolean;
}) {
  const id = useId();
  if (!models) return <div className="model-picker model-picker--loading" aria-hidden="true" />;
  if (models.demo) {
    return (
      <div className="model-picker">
        <span className="model-chip model-chip--demo" tabIndex={0} aria-describedby={`${id}-demo`}>
          <span className="model-chip__dot" aria-hidden="true" />
          Demo model
        </span>
        <span id={`${id}-demo`} role="tooltip" className="model-chip__tip">
          Offline canned answers: no AI provider key is configured on this server. Tokens and costs are still metered.
        </span>
      </div>
    );
  }
  if (models.models.length <= 1) {
    return (
      <div className="model-picker">
        <span className="model-chip">{models.items?.[0] ? optionLabel(models.items[0]) : (models.models[0] ?? 'No model available')}</span>
      </div>
    );
  }
  return (
    <div className="model-picker">
      <label htmlFor={`${id}-select`} className="visually-hidden">
        Model
      </label>
      <select id={`${id}-select`} className="model-select" value={value ?? ''} onChange={(event) => onChange(event.target.value)} disabled={disabled}>
        {models.items.map((item) => (
          <option key={item.model} value={item.model}>
            {optionLabel(item)}
          </option>
        ))}
      </select>
    </div>
  );
}
