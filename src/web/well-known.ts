/**
 * App-link files that make phones open this server's short links in the SimpleX app
 * (apps/common/Web/static/.well-known/: the app identifiers and paths are the reference's).
 */

/** iOS: Team ID + bundle id of SimpleX Chat; the link paths it claims (the reference lists no /r). */
export const APPLE_APP_SITE_ASSOCIATION = {
  applinks: {
    details: [
      {
        appIDs: ["5NN7GUYB6T.chat.simplex.app"],
        components: ["contact", "invitation", "a", "c", "g", "i"].flatMap((p) => [{ "/": `/${p}/*` }, { "/": `/${p}` }]),
      },
    ],
  },
};

/** Android: the package and the SHA-256 fingerprints of its signing certificates. */
export const ASSET_LINKS = [
  {
    relation: ["delegate_permission/common.handle_all_urls"],
    target: {
      namespace: "android_app",
      package_name: "chat.simplex.app",
      sha256_cert_fingerprints: [
        "5E:3E:DC:C2:00:FB:A8:D5:F4:88:F3:CA:4C:32:5B:05:78:C5:6A:9C:03:A1:CC:B5:92:9C:D7:5C:7E:57:E2:4D",
        "3C:52:C4:FD:3C:AD:1C:07:C9:B0:0A:70:80:E3:58:FA:B9:FE:FC:B8:AF:5A:EC:14:77:65:F1:6D:0F:21:AD:85",
        "AE:C1:95:DC:FD:46:14:BD:3A:91:EC:26:D1:D5:14:C8:75:71:C5:CC:8D:CF:48:08:3F:92:83:14:3C:A2:B9:A6",
      ],
    },
  },
];
