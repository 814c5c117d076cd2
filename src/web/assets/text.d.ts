// Stylesheets and images imported `with { type: "text" }` are strings (Bun).
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "*.svg" {
  const text: string;
  export default text;
}
