// @ts-check
/**
 * A TypeDoc plugin: the factories document each option as `@param options.<name> …`, which TypeDoc
 * cannot attach to a mapped options type (it drops them with a warning). This gathers them into
 * the `options` parameter's own description, as a list, so every factory's page shows each option
 * with its default.
 */
import { Converter } from 'typedoc';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(
    Converter.EVENT_CREATE_SIGNATURE,
    (_context, signature) => {
      const comment = signature.comment;
      if (!comment) return;
      const nested = comment.blockTags.filter((t) => t.tag === '@param' && t.name?.startsWith('options.'));
      if (nested.length === 0) return;
      let target = comment.blockTags.find((t) => t.tag === '@param' && t.name === 'options');
      if (!target) {
        target = comment.blockTags[comment.blockTags.indexOf(nested[0])].clone();
        target.name = 'options';
        target.content = [
          {
            kind: 'text',
            text: 'The options; every numeric one also accepts a schedule `(step) => number`:',
          },
        ];
        comment.blockTags.splice(comment.blockTags.indexOf(nested[0]), 0, target);
      }
      for (const tag of nested) {
        target.content.push(
          { kind: 'text', text: '\n- ' },
          { kind: 'code', text: `\`${tag.name?.slice('options.'.length)}\`` },
          { kind: 'text', text: ': ' },
          ...tag.content,
        );
      }
      comment.blockTags = comment.blockTags.filter((t) => !nested.includes(t));
    },
    1000,
  );
}
