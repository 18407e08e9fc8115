// An open board thread, live: the page watches its thread (`watch_thread`)
// and shows a new answer, vote counts, edits, hidden or deleted posts and
// the accepted answer without a reload, announcing each politely (the
// page's live region). Without this script the page is complete as served.
import { connect, command, on, whenConnected, announce } from '/assets/site.js';

const root = document.querySelector('[data-thread]');
const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || '';

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  e.append(...children);
  return e;
}

function hidden(name, value) { return el('input', { type: 'hidden', name, value }); }

/** A small form posting to a page route, with the page's CSRF token. */
function postForm(action, fields, label, cls) {
  const f = el('form', { method: 'post', action, class: 'inline' }, hidden('csrf', csrf()));
  for (const [k, v] of Object.entries(fields)) f.append(hidden(k, v));
  f.append(el('button', cls ? { type: 'submit', class: cls } : { type: 'submit' }, label));
  return f;
}

if (root) {
  const thread = root.dataset.thread;
  const me = root.dataset.me;
  const asker = root.dataset.asker === 'true';
  const mayVote = root.dataset.mayVote === 'true';
  const live = root.dataset.live === 'true';
  const answers = document.getElementById('answers');
  const heading = document.getElementById('answers-heading');
  const nameOf = (postId) => document.getElementById(`post-${postId}`)?.dataset.author || 'someone';

  const setCount = (delta) => {
    if (!heading || !heading.dataset.count) return;
    const n = Number(heading.dataset.count) + delta;
    heading.dataset.count = String(n);
    heading.textContent = `${n} ${n === 1 ? 'answer' : 'answers'}`;
  };

  /** A reply that arrived live, shown as the server shows one. */
  function showReply(p) {
    if (!answers || document.getElementById(`post-${p.id}`)) return;
    const name = p.author?.displayName || 'Someone';
    const label = `${name}'s ${p.parentId ? 'reply' : 'answer'}`;
    const hint = el('p', { class: 'hint' }, name);
    if (p.byMentor) hint.append(' ', el('span', { class: 'badge' }, 'Mentor'));
    hint.append(' · just now · ', el('span', { 'data-score': p.id }, `score ${p.score ?? 0}`), el('span', { 'data-accepted': p.id }));
    if (p.parentId) hint.append(' · ', el('a', { href: `#post-${p.parentId}` }, `in reply to ${nameOf(p.parentId)}`));
    const body = el('div', { class: 'post', 'data-body': p.id });
    // bodyHtml was rendered and cleaned on the server (pulldown-cmark, ammonia).
    body.innerHTML = p.bodyHtml || '';
    const art = el('article', { id: `post-${p.id}`, class: 'answer', 'data-author': name }, hint, body);
    const actions = el('div', { class: 'post-actions', 'data-actions': p.id });
    const own = p.author?.id === me;
    const base = `/boards/threads/${thread}/posts/${p.id}`;
    if (me && !own && mayVote) {
      actions.append(postForm(`${base}/vote`, { value: '1' }, `Vote for ${label}`, 'secondary'), ' ');
      actions.append(postForm(`${base}/vote`, { value: '-1' }, `Vote against ${label}`, 'secondary'), ' ');
    }
    if (asker) {
      const f = postForm(`/boards/threads/${thread}/accept`, { postId: p.id }, `Accept ${label}`);
      f.dataset.accept = p.id;
      actions.append(f);
    }
    if (actions.childNodes.length) art.append(actions);
    answers.append(art);
    setCount(1);
    announce(`New ${p.parentId ? 'reply' : 'answer'} from ${name}${p.byMentor ? ', a mentor' : ''}.`);
  }

  function showVote(v) {
    const s = document.querySelector(`[data-score="${v.postId}"]`);
    if (s) s.textContent = `score ${v.score}`;
    announce(`${nameOf(v.postId)}'s post now has a score of ${v.score}.`);
  }

  function showAccepted(ev) {
    document.querySelectorAll('[data-accepted]').forEach((s) => { s.textContent = ''; });
    const id = ev.postId;
    if (id) {
      const s = document.querySelector(`[data-accepted="${id}"]`);
      if (s) s.append(' · ', el('span', { class: 'badge' }, 'Accepted answer'));
    }
    // The asker's buttons follow: "Withdraw acceptance" on the accepted one.
    document.querySelectorAll('form[data-accept]').forEach((f) => {
      const pid = f.dataset.accept;
      const input = f.querySelector('input[name="postId"]');
      const button = f.querySelector('button');
      const label = button.textContent.replace(/^(Accept|Withdraw acceptance of) /, '');
      if (pid === id) { input.value = ''; button.textContent = `Withdraw acceptance of ${label}`; button.className = 'secondary'; } else { input.value = pid; button.textContent = `Accept ${label}`; button.className = ''; }
    });
    announce(id ? `${nameOf(id)}'s answer is now the accepted answer.` : 'No answer is accepted now.');
  }

  function showEdit(p) {
    const b = document.querySelector(`[data-body="${p.id}"]`);
    if (b && p.bodyHtml != null) { b.innerHTML = p.bodyHtml; announce(`${nameOf(p.id)} edited their post.`); }
  }

  function showGone(postId, words) {
    const b = document.querySelector(`[data-body="${postId}"]`);
    if (!b) return;
    b.replaceChildren(el('p', {}, el('em', {}, words)));
    document.querySelector(`[data-actions="${postId}"]`)?.remove();
    announce(`${nameOf(postId)}'s post: ${words}`);
  }

  on('thread_updated', (ev) => {
    if (ev.threadId !== thread) return;
    const p = ev.payload || {};
    switch (ev.change) {
      case 'reply':
        if (live) showReply(p); else announce(`New reply from ${p.author?.displayName || 'someone'}: see the last page.`);
        break;
      case 'vote': showVote(p); break;
      case 'accepted': showAccepted(p); break;
      case 'edit': showEdit(p); break;
      case 'post_hidden': showGone(p.postId, 'This reply was hidden by a moderator.'); break;
      case 'post_deleted': showGone(p.postId, p.wholeThread ? 'This thread was deleted.' : 'This reply was deleted.'); break;
      case 'thread':
        if (p.thread?.locked) announce('A moderator locked this thread: reload to see it as it stands.');
        else announce('A moderator changed this thread: reload to see it as it stands.');
        break;
      default: break;
    }
    document.body.dataset.threadEvents = String(Number(document.body.dataset.threadEvents || 0) + 1);
  });
  whenConnected(() => command('watch_thread', { threadId: thread })
    .then(() => { document.body.dataset.watching = 'true'; })
    .catch(() => {}));
  connect().catch(() => {});
}
