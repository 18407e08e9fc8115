// The profile editor's picture: uploaded as the file's own bytes to
// PUT /api/me/avatar (the form is hidden without this script), removed with
// DELETE; the result is shown and announced.
import { token, announce } from '/assets/site.js';

const form = document.getElementById('avatar-form');
if (form) {
  form.hidden = false;
  const img = document.getElementById('avatar-img');
  const none = document.getElementById('no-avatar');
  const status = document.getElementById('avatar-status');
  const remove = document.getElementById('avatar-remove');
  const say = (text) => { status.textContent = text; announce(text); };
  const call = async (method, body, type) => {
    const headers = { Authorization: `Bearer ${await token()}` };
    if (type) headers['Content-Type'] = type;
    const r = await fetch('/api/me/avatar', { method, headers, body });
    const v = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(v.message || r.statusText);
    return v;
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const file = document.getElementById('avatar-file').files[0];
    if (!file) { say('Choose a picture first.'); return; }
    if (file.size > 1024 * 1024) { say('That picture is larger than 1 MB; choose a smaller one.'); return; }
    say('Uploading…');
    try {
      const v = await call('PUT', file, file.type);
      img.src = v.avatarUrl; img.hidden = false; if (none) none.hidden = true; remove.hidden = false;
      say('Your new picture is saved.');
    } catch (err) { say(`The picture was not saved: ${err.message}`); }
  });
  remove.addEventListener('click', async () => {
    try {
      await call('DELETE');
      img.hidden = true; img.removeAttribute('src'); if (none) none.hidden = false; remove.hidden = true;
      say('Your picture is removed.');
    } catch (err) { say(`The picture was not removed: ${err.message}`); }
  });
}
