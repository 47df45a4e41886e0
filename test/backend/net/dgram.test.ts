// A dgram netdev over UDP sends later than send() returns, while the frames it is given are
// only lent (NetClient.send): what goes out is each frame as it was at the call.

import { expect } from 'chai';
import { createSocket } from 'node:dgram';
import { DgramNetClient } from '../../../src/backend/net/dgram.js';
import { eventually } from '../../helpers/qmp-client.js';

describe('dgram netdev over UDP', () => {
  it('sends each frame as it was when handed over, though the caller reuses its buffer at once', async () => {
    const far = createSocket('udp4');
    const got: number[] = [];
    far.on('message', (m) => got.push(m[14]!));
    await new Promise<void>((r) => far.bind(0, '127.0.0.1', () => r()));
    const client = await DgramNetClient.open('d0', {
      remote: { type: 'inet', host: '127.0.0.1', port: String(far.address().port) },
    });
    try {
      const lent = new Uint8Array(60);
      for (let t = 1; t <= 4; t++) {
        lent[14] = t;
        expect(client.send(lent)).to.equal(true);
      }
      lent[14] = 0xee;
      await eventually(() => got.length === 4, 5000, 'four datagrams');
      expect(got).to.deep.equal([1, 2, 3, 4]);
    } finally {
      client.close();
      far.close();
    }
  });
});
