// Checks the site TypeDoc wrote (argument: its directory): every optimizer factory's page shows
// its update rule and its options with their defaults, and every page of docs/ is in the site.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const site = process.argv[2] ?? '.check-site';
const factories = {
  sgd: ['sgd'],
  adaptive: ['adagrad', 'rmsprop', 'adadelta'],
  adam: ['adam', 'adamw', 'adamax', 'nadam', 'radam'],
  layerwise: ['lars', 'lamb'],
  lion: ['lion'],
  factored: ['adafactor', 'came'],
};
const text = (file) =>
  readFileSync(file, 'utf8')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&[a-z]+;|&#\d+;/g, ' ')
    .replace(/\s+/g, ' ');
const problems = [];
for (const [pkg, names] of Object.entries(factories)) {
  for (const name of names) {
    const file = join(site, 'functions', `_optimkit_${pkg}.${name}.html`);
    if (!existsSync(file)) {
      problems.push(`no page for ${name} (${file})`);
      continue;
    }
    const page = text(file);
    if (!page.includes('←')) problems.push(`${name}: no update rule on its page`);
    if (!/learningRate\s*:.*default/.test(page))
      problems.push(`${name}: its options and defaults are not on its page`);
  }
}
const docs = join(import.meta.dirname, '../../docs');
for (const dir of ['', 'algorithms', 'guides']) {
  for (const file of readdirSync(join(docs, dir)).filter(
    (f) => (f.endsWith('.md') && f !== 'README.md') || (dir && f === 'README.md'),
  )) {
    const page = join(site, 'documents', `${dir ? `${dir}_` : ''}${file.replace(/\.md$/, '')}.html`);
    if (!existsSync(page)) problems.push(`docs/${dir ? `${dir}/` : ''}${file} is not in the site (${page})`);
  }
}
if (problems.length > 0) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`${site}: every factory page has its rule and defaults; every docs/ page is in the site`);
