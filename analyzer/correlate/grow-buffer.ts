// The spool writers' record buffer (record-codec.ts's RecordWriter,
// framed-codec.ts's FramedWriter): a Buffer written from its start for each
// record and doubled when a record needs more, so that writing a record
// allocates nothing once the buffer has grown to the largest record.
export class GrowBuffer {
  protected buf = Buffer.allocUnsafe(4096)
  protected pos = 0

  /** Room for n more bytes at pos. */
  protected ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n))
    this.buf.copy(b, 0, 0, this.pos)
    this.buf = b
  }

  protected u8(x: number): void {
    this.ensure(1)
    this.buf[this.pos++] = x
  }
}
