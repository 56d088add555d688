// A real OpenID provider (the certified `oidc-provider` package) on loopback, for the web app's
// sign-in test. Usage: node provider.mjs PORT REDIRECT_URI CLIENT_SECRET
// One account ("oidc-official"); ID tokens carry its profile under the names `org_unit` and
// `groups` (the web app's claim mapping is configured for them); access tokens for the APIs are
// JWTs for the resource `urn:lms:api` with audience `lms` and the `roles`, `name`, `org` claims
// the services read.
import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK } from 'jose';

const [port, redirectUri, clientSecret] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const accounts = {
  'oidc-official': { name: '최하늘', org_unit: 'CITY-OIDC', groups: ['learner'] },
};

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-provider-key', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'lms-web',
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['name', 'org_unit', 'groups'] },
  conformIdTokenClaims: false,
  scopes: ['openid', 'profile', 'lms'],
  async findAccount(ctx, id) {
    const profile = accounts[id] ?? { name: id, org_unit: '', groups: ['learner'] };
    return { accountId: id, async claims() { return { sub: id, ...profile }; } };
  },
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:lms:api',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'lms',
        audience: 'lms',
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  async extraTokenClaims(ctx, token) {
    const profile = accounts[token.accountId] ?? { name: token.accountId, org_unit: '', groups: ['learner'] };
    return { roles: profile.groups, name: profile.name, org: profile.org_unit };
  },
});
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
