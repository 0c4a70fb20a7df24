/** Download of the user's own usage ledger (GET /export/usage.csv and .json, with the session cookie). */
export function ExportPanel() {
  return (
    <section className="panel" aria-labelledby="export-title">
      <h2 id="export-title" className="panel__title">
        Export
      </h2>
      <p className="muted usage-note">Every metered event of your account, oldest first: the same fields as the activity list, costs in micro-dollars.</p>
      <div className="usage-actions">
        <a className="btn btn--secondary btn--small" href="/export/usage.csv" download>
          Download CSV
        </a>
        <a className="btn btn--secondary btn--small" href="/export/usage.json" download>
          Download JSON
        </a>
      </div>
    </section>
  );
}
