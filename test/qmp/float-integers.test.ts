// QEMU refuses a float token where it wants an integer, even an integral one like 1.0; ajv sees
// plain numbers, so vifd checks integer members against the parser's values first.

import { expect } from 'chai';
import { useAppWithClient } from '../helpers/app.js';

describe('float tokens where QEMU wants an integer', () => {
  const s = useAppWithClient({ each: false });

  const reply = async (text: string): Promise<string> => {
    s.qmp.send(text);
    return s.qmp.nextLine();
  };

  it('refuses 1.0 for an unsigned command argument with QEMU\'s words', async () => {
    expect(await reply('{"execute":"xen-event-inject","arguments":{"port":1.0},"id":"f"}'))
      .to.equal('{"id": "f", "error": {"class": "GenericError", "desc": "Parameter \'port\' expects uint64"}}\r\n');
  });

  it('refuses 1.0 for a device property, and creates nothing', async () => {
    expect(await reply('{"execute":"device_add","arguments":{"driver":"xen-net-device","id":"f0","idx":1.0}}'))
      .to.equal('{"error": {"class": "GenericError", "desc": "Invalid parameter type for \'idx\', expected: integer"}}\r\n');
    expect(s.t.app.devices.find('f0')).to.equal(undefined);
  });

  it('still takes floats where a number is wanted and integers where an integer is', async () => {
    expect(await reply('{"execute":"device_add","arguments":{"driver":"xen-net-device","id":"f1","idx":3},"id":1}'))
      .to.equal('{"return": {}, "id": 1}\r\n');
    expect(await reply('{"execute":"query-status","id":1.0}')).to.equal('{"return": {"status": "running", "running": true}, "id": 1}\r\n');
  });
});
