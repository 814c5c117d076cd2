/**
 * The server address as a QR code in the terminal (ours: operators add the address on a phone by
 * scanning it). Half-block characters, two modules per character row; light modules are drawn,
 * so it reads as a normal QR code on a dark terminal (phone scanners also read it inverted).
 */
import qrcode from "qrcode-generator";

export function terminalQr(text: string): string {
  const qr = qrcode(0, "L");
  qr.addData(text);
  qr.make();
  return qr.createASCII(1, 2);
}
