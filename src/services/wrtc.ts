/** The WebRTC implementation simple-peer runs on in Node: `@roamhq/wrtc`. `wrtc.browser.ts` is this file in the browser build. */
import { createRequire } from 'node:module';
import { withoutDescriptionReads, type WrtcModule } from './descriptionReads.js';

const require = createRequire(import.meta.url);
let wrtc: WrtcModule | undefined;

/** `@roamhq/wrtc`, loaded on first use: importing the library must not start libwebrtc. */
export function loadWrtc(): unknown {
  return (wrtc ??= withoutDescriptionReads(require('@roamhq/wrtc') as WrtcModule));
}
