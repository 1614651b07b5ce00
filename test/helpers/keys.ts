import { generateKeyPairSync, KeyObject } from 'crypto';

/** DER of the P-256 curve OID, as an `EC PARAMETERS` block carries it. */
export const EC_PARAMETERS_P256 =
  '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----';

export interface TestKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  sec1: string;
  pkcs8: string;
}

export function generateP256(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKey,
    publicKey,
    sec1: privateKey.export({ format: 'pem', type: 'sec1' }).toString(),
    pkcs8: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}

export function generatePem(type: 'rsa' | 'ec-p384' | 'ed25519'): {
  privateKey: string;
  publicKey: string;
} {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'ec-p384'
        ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : generateKeyPairSync('ed25519');
  return {
    privateKey: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: pair.publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** Swaps a PEM's label for the other private key label, as some downloads do. */
export function swapLabel(pem: string): string {
  return pem.includes('EC PRIVATE KEY')
    ? pem.replace(/EC PRIVATE KEY/g, 'PRIVATE KEY')
    : pem.replace(/PRIVATE KEY/g, 'EC PRIVATE KEY');
}
