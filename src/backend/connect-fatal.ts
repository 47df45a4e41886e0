// A connect failure reported as Linux's xenbus_dev_fatal: `<errno> <message>` goes to the
// device's error node (where toolstacks look) and the backend closes. Other connect errors only
// close it, as QEMU's xen-bus does.

export class ConnectFatal extends Error {
  constructor(readonly errno: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ConnectFatal';
  }
}
