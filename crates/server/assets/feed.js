// The access log's live feed: new door decisions from the server's Server-Sent Events,
// added at the top of the "Live" table. Text only (textContent, never HTML), so nothing a
// device or a carrier wrote can run here. Without this script the page works as it is.
'use strict';
(function () {
  const status = document.getElementById('live-status');
  const body = document.querySelector('#live tbody');
  if (!status || !body || !window.EventSource) return;
  const say = (text) => { status.textContent = text; };
  const cell = (row, text, cls) => {
    const td = row.insertCell();
    if (cls) {
      const span = document.createElement('span');
      span.className = cls;
      span.textContent = text;
      td.appendChild(span);
    } else {
      td.textContent = text;
    }
    return td;
  };
  const source = new EventSource(status.dataset.feed);
  source.addEventListener('open', () => say('Live: new entries appear here as they happen.'));
  source.addEventListener('entry', (m) => {
    let e;
    try { e = JSON.parse(m.data); } catch (_) { return; }
    const row = body.insertRow(0);
    row.className = 'fresh';
    cell(row, e.time);
    cell(row, e.door);
    const decision = cell(row, e.allowed ? 'allowed' : 'denied', e.allowed ? 'ok' : 'warn');
    if (!e.allowed && e.reason) {
      const code = document.createElement('code');
      code.textContent = e.reason;
      decision.append(' ', code);
    }
    cell(row, e.carrier);
    cell(row, e.unit);
    cell(row, e.delivery);
    cell(row, e.device);
    while (body.rows.length > 200) body.deleteRow(-1);
  });
  source.addEventListener('missed', (m) => say('Live: ' + m.data + ' entries came too fast to show; reload to see them all.'));
  source.addEventListener('signed-out', () => {
    source.close();
    say('Your session has ended: sign in again to follow the live feed.');
  });
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) say('The live feed stopped: reload the page.');
    else say('Reconnecting to the live feed…');
  });
})();
