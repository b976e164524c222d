// xgate tenant admin UI. Hand-written, no dependencies, no build step: it is served from
// the binary as is. It talks only to <base>/api/admin, where <base> is "" on a tenant's
// own port and "/t/<tenant>" on the shared listener. User data is put into the page with
// textContent only; the one exception is the template body in the editor, which the
// server has sanitised and which the page's CSP keeps from running script anyway.
'use strict';

const BASE = location.pathname.replace(/\/front\/?$/, '');
const API = BASE + '/api/admin';

const TEXT = {
  ru: {
    templates: 'Шаблоны', admins: 'Администраторы', audit: 'Журнал', logout: 'Выйти',
    login: 'Логин', password: 'Пароль', confirm: 'Повторите пароль', signin: 'Войти',
    setTitle: 'Задайте пароль', setHint: 'Первый вход: задайте пароль не короче 12 символов. До этого ничего другое недоступно.',
    save: 'Сохранить', cancel: 'Отмена', edit: 'Изменить', remove: 'Удалить', create: 'Создать шаблон',
    name: 'Название', language: 'Язык', subject: 'Тема', isDefault: 'По умолчанию', updated: 'Изменён',
    fullName: 'ФИО', addAdmin: 'Добавить администратора', keepHint: 'Пустой пароль — оставить прежний',
    when: 'Когда', who: 'Кто', action: 'Действие', detail: 'Подробности',
    preview: 'Предпросмотр (тестовые данные)', source: 'HTML', visual: 'Визуально',
    placeholders: 'Вставить:', logo: 'Логотип', signature: 'Подпись', upload: 'Загрузить',
    saved: 'Сохранено', confirmDelete: 'Удалить?', linkUrl: 'Адрес ссылки:', yes: 'да',
    bold: 'Жирный', italic: 'Курсив', underline: 'Подчёркнутый', size: 'Размер', color: 'Цвет',
    sup: 'Надстрочный', sub: 'Подстрочный', ul: 'Список', ol: 'Нумерованный список', link: 'Ссылка',
    imagesHint: 'Изображения можно загрузить после первого сохранения.',
    'conference.link': 'Ссылка на конференцию', 'conference.name': 'Название конференции',
    'conference.access_code': 'Код доступа', 'conference.start_at': 'Начало', 'conference.end_at': 'Конец',
    'user.name': 'Имя пользователя', 'user.email': 'Почта пользователя', 'user.sip': 'SIP-номер', 'tenant.name': 'Организация',
  },
  en: {
    templates: 'Templates', admins: 'Admins', audit: 'Audit log', logout: 'Log out',
    login: 'Login', password: 'Password', confirm: 'Repeat the password', signin: 'Log in',
    setTitle: 'Set your password', setHint: 'First login: set a password of at least 12 characters. Nothing else works until then.',
    save: 'Save', cancel: 'Cancel', edit: 'Edit', remove: 'Delete', create: 'New template',
    name: 'Name', language: 'Language', subject: 'Subject', isDefault: 'Default', updated: 'Updated',
    fullName: 'Full name', addAdmin: 'Add an admin', keepHint: 'Empty password: keep the current one',
    when: 'When', who: 'Who', action: 'Action', detail: 'Details',
    preview: 'Preview (sample data)', source: 'HTML', visual: 'Visual',
    placeholders: 'Insert:', logo: 'Logo', signature: 'Signature', upload: 'Upload',
    saved: 'Saved', confirmDelete: 'Delete?', linkUrl: 'Link address:', yes: 'yes',
    bold: 'Bold', italic: 'Italic', underline: 'Underline', size: 'Size', color: 'Colour',
    sup: 'Superscript', sub: 'Subscript', ul: 'List', ol: 'Numbered list', link: 'Link',
    imagesHint: 'Images can be uploaded once the template is saved.',
    'conference.link': 'Conference link', 'conference.name': 'Conference name',
    'conference.access_code': 'Access code', 'conference.start_at': 'Start', 'conference.end_at': 'End',
    'user.name': 'User name', 'user.email': 'User e-mail', 'user.sip': 'SIP number', 'tenant.name': 'Organisation',
  },
};
const PLACEHOLDERS = ['conference.link', 'conference.name', 'conference.access_code', 'conference.start_at',
  'conference.end_at', 'user.name', 'user.email', 'user.sip', 'tenant.name'];

let lang = localStorage.getItem('xgate-lang') === 'en' ? 'en' : 'ru';
let session = null;
const t = (key) => TEXT[lang][key] || key;
const $ = (id) => document.getElementById(id);

// h('tag', {attr: value, onclick: fn}, child...): children are nodes or text.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, '');
    else if (v !== false && v != null) el.setAttribute(k, v);
  }
  for (const c of children.flat()) el.append(c instanceof Node ? c : String(c));
  return el;
}

function showError(message) {
  const box = $('error');
  box.textContent = message || '';
  box.hidden = !message;
}

async function api(method, path, body, raw) {
  const headers = { 'Accept-Language': lang };
  if (session) headers['X-CSRF-Token'] = session.csrf;
  const init = { method, headers, credentials: 'same-origin' };
  if (raw) { init.body = raw; headers['Content-Type'] = raw.type; }
  else if (body !== undefined) { init.body = JSON.stringify(body); headers['Content-Type'] = 'application/json'; }
  const res = await fetch(API + path, init);
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const err = new Error((data && data.error && data.error.message) || res.statusText);
    err.status = res.status; err.body = data;
    if (res.status === 401 && path !== '/login') { session = null; render('login'); }
    throw err;
  }
  return data;
}

// Runs an action, showing its error (if any) instead of throwing.
async function attempt(fn) {
  showError('');
  try { return await fn(); } catch (e) { if (e.status !== 401 || !session) showError(e.message); return undefined; }
}

function field(label, input) {
  return h('label', {}, h('span', {}, label), input);
}

function table(headers, rows) {
  return h('table', { class: 'list' }, h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows));
}

const when = (iso) => new Date(iso).toLocaleString(lang === 'ru' ? 'ru-RU' : 'en-GB');

// ---- views ----

function viewLogin(main) {
  const login = h('input', { id: 'login-name', autocomplete: 'username', value: 'admin' });
  const password = h('input', { id: 'login-password', type: 'password', autocomplete: 'current-password' });
  const form = h('form', { class: 'card', onsubmit: (e) => { e.preventDefault(); attempt(async () => {
    session = await api('POST', '/login', { login: login.value, password: password.value });
    render(session.setup ? 'password' : 'templates');
  }); } }, h('h1', {}, t('signin')), field(t('login'), login), field(t('password'), password),
  h('button', { id: 'login-submit', type: 'submit' }, t('signin')));
  main.append(form);
}

function viewPassword(main) {
  const p1 = h('input', { id: 'new-password', type: 'password', autocomplete: 'new-password', minlength: '12' });
  const p2 = h('input', { id: 'new-password-confirm', type: 'password', autocomplete: 'new-password' });
  main.append(h('form', { class: 'card', onsubmit: (e) => { e.preventDefault(); attempt(async () => {
    session = await api('POST', '/password', { password: p1.value, password_confirm: p2.value });
    render('templates');
  }); } }, h('h1', {}, t('setTitle')), h('p', {}, t('setHint')), field(t('password'), p1), field(t('confirm'), p2),
  h('button', { id: 'password-submit', type: 'submit' }, t('save'))));
}

async function viewAdmins(main) {
  const data = await api('GET', '/admins');
  const form = adminForm(null);
  main.append(h('h1', {}, t('admins')), table([t('login'), t('fullName'), t('updated'), ''],
    data.admins.map((a) => h('tr', {}, h('td', {}, a.login), h('td', {}, a.full_name), h('td', {}, when(a.updated_at)),
      h('td', {}, h('button', { onclick: () => form.replaceWith(adminForm(a)) }, t('edit')), ' ',
        h('button', { class: 'danger', onclick: () => confirm(t('confirmDelete')) && attempt(async () => {
          await api('DELETE', '/admins/' + encodeURIComponent(a.login)); render('admins'); }) }, t('remove')))))),
  form);
}

function adminForm(existing) {
  const login = h('input', { id: 'admin-login', value: existing ? existing.login : '', disabled: !!existing });
  const name = h('input', { id: 'admin-name', value: existing ? existing.full_name : '' });
  const p1 = h('input', { id: 'admin-password', type: 'password', autocomplete: 'new-password' });
  const p2 = h('input', { id: 'admin-password-confirm', type: 'password', autocomplete: 'new-password' });
  return h('form', { class: 'card', onsubmit: (e) => { e.preventDefault(); attempt(async () => {
    const body = { login: login.value, full_name: name.value, password: p1.value, password_confirm: p2.value };
    if (existing) await api('PUT', '/admins/' + encodeURIComponent(existing.login), body);
    else await api('POST', '/admins', body);
    render('admins');
  }); } }, h('h2', {}, existing ? existing.login : t('addAdmin')), field(t('login'), login), field(t('fullName'), name),
  field(t('password'), p1), field(t('confirm'), p2), existing ? h('p', { class: 'hint' }, t('keepHint')) : '',
  h('button', { id: 'admin-submit', type: 'submit' }, t('save')));
}

async function viewTemplates(main) {
  const data = await api('GET', '/templates');
  main.append(h('h1', {}, t('templates')),
    h('p', {}, h('button', { id: 'template-new', onclick: () => { location.hash = 'template/new'; } }, t('create'))),
    table([t('name'), t('language'), t('isDefault'), t('updated'), ''], data.templates.map((x) => h('tr', {},
      h('td', {}, x.name), h('td', {}, x.language), h('td', {}, x.is_default ? t('yes') : ''),
      h('td', {}, when(x.updated_at) + ' · ' + x.updated_by),
      h('td', {}, h('button', { onclick: () => { location.hash = 'template/' + x.id; } }, t('edit')), ' ',
        h('button', { class: 'danger', onclick: () => confirm(t('confirmDelete')) && attempt(async () => {
          await api('DELETE', '/templates/' + x.id); render('templates'); }) }, t('remove')))))));
}

async function viewEditor(main, id) {
  const tpl = id === 'new' ? { language: lang, name: '', subject: '', html: '<p></p>', is_default: false, images: [] }
    : await api('GET', '/templates/' + id);
  const name = h('input', { id: 'tpl-name', value: tpl.name });
  const language = h('select', { id: 'tpl-language' }, ['ru', 'en'].map((l) => h('option', { value: l, selected: l === tpl.language }, l)));
  const subject = h('input', { id: 'tpl-subject', value: tpl.subject });
  const isDefault = h('input', { id: 'tpl-default', type: 'checkbox', checked: tpl.is_default });
  const editor = h('div', { id: 'editor', class: 'editor', contenteditable: 'true' });
  // The letter's images are placeholders ({{ images.logo }}); the editor shows the stored
  // image instead and puts the placeholder back whenever the HTML is read.
  const IMAGE = /^\{\{\s*images\.(logo|signature)\s*\}\}$/;
  const showImages = () => {
    for (const img of editor.querySelectorAll('img')) {
      const m = IMAGE.exec(img.getAttribute('src') || '');
      if (m && id !== 'new') { img.dataset.xgateImage = m[1]; img.src = API + '/templates/' + id + '/images/' + m[1]; }
    }
  };
  const editorHtml = () => {
    const copy = editor.cloneNode(true);
    for (const img of copy.querySelectorAll('img[data-xgate-image]')) {
      img.setAttribute('src', '{{ images.' + img.dataset.xgateImage + ' }}');
      img.removeAttribute('data-xgate-image');
    }
    return copy.innerHTML;
  };
  editor.innerHTML = tpl.html; // sanitised by the server on save
  showImages();
  const source = h('textarea', { id: 'source', class: 'editor', hidden: true, spellcheck: 'false' });
  const frame = h('iframe', { id: 'preview', sandbox: '', title: t('preview') });
  const previewSubject = h('p', { id: 'preview-subject', class: 'subject' });
  const previewError = h('p', { id: 'preview-error', class: 'error' });
  let sourceMode = false;
  const status = (text) => { if ($('status')) $('status').textContent = text; };

  const html = () => (sourceMode ? source.value : editorHtml());
  let timer = null;
  const refresh = () => { clearTimeout(timer); timer = setTimeout(async () => {
    try {
      const body = { subject: subject.value, html: html() };
      if (id !== 'new') body.template_id = id;
      const p = await api('POST', '/preview', body);
      frame.srcdoc = p.html; previewSubject.textContent = p.subject; previewError.textContent = '';
    } catch (e) { previewError.textContent = e.message; }
  }, 300); };
  const cmd = (name, value) => () => {
    if (sourceMode) return;
    editor.focus(); document.execCommand(name, false, value); showImages(); refresh();
  };
  const insert = (text) => {
    if (sourceMode) { source.setRangeText(text, source.selectionStart, source.selectionEnd, 'end'); source.focus(); }
    else { editor.focus(); document.execCommand('insertText', false, text); }
    refresh();
  };
  // mousedown is cancelled so the editor keeps its selection when a tool is clicked.
  const tool = (label, title, action, extra) => h('button', Object.assign({ type: 'button', title, onclick: action,
    onmousedown: (e) => e.preventDefault() }, extra || {}), label);
  const size = h('select', { title: t('size'), onchange: () => { cmd('fontSize', size.value)(); } },
    ['1', '2', '3', '4', '5', '6', '7'].map((s) => h('option', { value: s, selected: s === '3' }, s)));
  const color = h('input', { type: 'color', title: t('color'), onchange: () => cmd('foreColor', color.value)() });
  const toggle = tool(t('source'), t('source'), () => {
    sourceMode = !sourceMode;
    if (sourceMode) { source.value = editorHtml(); } else { editor.innerHTML = source.value; showImages(); }
    editor.hidden = sourceMode; source.hidden = !sourceMode;
    toggle.textContent = sourceMode ? t('visual') : t('source');
  }, { id: 'tool-source' });

  const images = h('div', { class: 'images' });
  if (id === 'new') images.append(h('p', { class: 'hint' }, t('imagesHint')));
  else for (const kind of ['logo', 'signature']) {
    const file = h('input', { type: 'file', accept: 'image/png,image/jpeg,image/gif', id: 'image-' + kind,
      onchange: () => file.files[0] && attempt(async () => {
        await api('PUT', '/templates/' + id + '/images/' + kind, undefined, file.files[0]);
        for (const img of editor.querySelectorAll('img[data-xgate-image="' + kind + '"]')) img.src = img.src.split('?')[0] + '?v=' + Date.now();
        status('✓ ' + t(kind)); refresh(); }) });
    images.append(field(t(kind) + (tpl.images.includes(kind) ? ' (' + t('yes') + ')' : ''), file));
  }

  main.append(h('h1', {}, tpl.name || t('create')),
    h('div', { class: 'row' }, field(t('name'), name), field(t('language'), language),
      h('label', { class: 'check' }, isDefault, t('isDefault'))),
    field(t('subject'), subject),
    h('div', { class: 'toolbar', id: 'placeholders' }, h('span', {}, t('placeholders')),
      PLACEHOLDERS.map((p) => tool(t(p), '{{ ' + p + ' }}', () => insert('{{ ' + p + ' }}'), { 'data-placeholder': p }))),
    h('div', { class: 'toolbar', id: 'format' },
      tool(h('b', {}, 'B'), t('bold'), cmd('bold'), { id: 'tool-bold' }),
      tool(h('i', {}, 'I'), t('italic'), cmd('italic'), { id: 'tool-italic' }),
      tool(h('u', {}, 'U'), t('underline'), cmd('underline'), { id: 'tool-underline' }),
      size, color,
      tool(h('span', {}, 'x', h('sup', {}, '2')), t('sup'), cmd('superscript')),
      tool(h('span', {}, 'x', h('sub', {}, '2')), t('sub'), cmd('subscript')),
      tool('•', t('ul'), cmd('insertUnorderedList')), tool('1.', t('ol'), cmd('insertOrderedList')),
      tool(t('link'), t('link'), () => { const url = prompt(t('linkUrl'), 'https://'); if (url) cmd('createLink', url)(); }),
      tool(t('logo'), t('logo'), () => {
        if (sourceMode) insert('<img src="{{ images.logo }}" alt="logo">'); else cmd('insertImage', '{{ images.logo }}')(); },
      { id: 'tool-logo' }),
      tool(t('signature'), t('signature'), () => {
        if (sourceMode) insert('<img src="{{ images.signature }}" alt="">'); else cmd('insertImage', '{{ images.signature }}')(); },
      { id: 'tool-signature' }),
      toggle),
    editor, source, images,
    h('p', {}, h('button', { id: 'template-save', onclick: () => attempt(async () => {
      const body = { name: name.value, language: language.value, subject: subject.value, html: html(), is_default: isDefault.checked };
      const saved = id === 'new' ? await api('POST', '/templates', body) : await api('PUT', '/templates/' + id, body);
      // replaceState: no hashchange, so the page renders once, with the status.
      showError(''); history.replaceState(null, '', '#template/' + saved.id); render('template/' + saved.id, t('saved'));
    }) }, t('save')), ' ', h('button', { onclick: () => { location.hash = 'templates'; } }, t('cancel')),
    h('span', { id: 'status', class: 'status' })),
    h('h2', {}, t('preview')), previewSubject, previewError, frame);
  for (const el of [editor, source, subject]) el.addEventListener('input', refresh);
  refresh();
}

async function viewAudit(main) {
  const data = await api('GET', '/audit');
  main.append(h('h1', {}, t('audit')), table([t('when'), t('who'), t('action'), t('detail')],
    data.entries.map((e) => h('tr', {}, h('td', {}, when(e.at)), h('td', {}, e.actor), h('td', {}, e.action), h('td', {}, e.detail)))));
}

// ---- frame ----

async function render(view, status) {
  const main = $('main');
  main.replaceChildren();
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
  const ready = session && !session.setup;
  $('nav').hidden = !ready;
  $('logout').hidden = !session;
  $('who').textContent = session ? session.login : '';
  if (!session) return viewLogin(main);
  if (session.setup) return viewPassword(main);
  const [name, arg] = (view || 'templates').split('/');
  await attempt(async () => {
    if (name === 'admins') await viewAdmins(main);
    else if (name === 'audit') await viewAudit(main);
    else if (name === 'template' && arg) await viewEditor(main, arg);
    else await viewTemplates(main);
  });
  if (status && $('status')) $('status').textContent = status;
}

window.addEventListener('hashchange', () => render(location.hash.slice(1)));
document.addEventListener('DOMContentLoaded', async () => {
  $('lang').value = lang;
  $('lang').addEventListener('change', () => {
    lang = $('lang').value; localStorage.setItem('xgate-lang', lang); render(location.hash.slice(1));
  });
  $('logout').addEventListener('click', () => attempt(async () => {
    await api('POST', '/logout', {}); session = null; location.hash = ''; render('login');
  }));
  try { session = await api('GET', '/session'); } catch (e) { session = null; }
  render(location.hash.slice(1));
});
