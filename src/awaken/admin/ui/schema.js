// A small JSON Schema validator for the subset that handler and awakeable types produce (pydantic's
// schemas): type, enum, const, properties, required, additionalProperties, items, prefixItems,
// anyOf / oneOf / allOf, $ref into $defs, and the common bounds. Keywords it does not know are
// ignored: the server validates in full and its 400 lists what this one let through.

/** The problems of `value` against `schema`, as "path: message" strings; [] when it passes. */
export function validate(schema, value) {
  const errors = [];
  check(schema ?? {}, value, "", schema ?? {}, errors);
  return errors;
}

function typeOf(value) {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value; // string, boolean, object
}

function matchesType(type, value) {
  const actual = typeOf(value);
  return type === actual || (type === "number" && actual === "integer");
}

function resolve(ref, root) {
  if (!ref.startsWith("#")) return null;
  let node = root;
  for (const raw of ref.slice(1).split("/").filter(Boolean)) {
    const part = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    if (node === null || typeof node !== "object" || !(part in node)) return null;
    node = node[part];
  }
  return node;
}

function equal(a, b) {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v) {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  }
  return v;
}

function at(path) {
  return path === "" ? "" : `${path}: `;
}

function check(schema, value, path, root, errors) {
  if (schema === true || schema === undefined) return;
  if (schema === false) {
    errors.push(`${at(path)}no value is allowed here`);
    return;
  }
  if (typeof schema !== "object" || schema === null) return;
  if (typeof schema.$ref === "string") {
    const target = resolve(schema.$ref, root);
    if (target !== null) check(target, value, path, root, errors);
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!types.some((t) => matchesType(t, value))) {
      errors.push(`${at(path)}${JSON.stringify(value)} is not of type ${types.map((t) => `'${t}'`).join(", ")}`);
      return; // the other keywords would only repeat the same problem
    }
  }
  if (schema.enum !== undefined && !schema.enum.some((e) => equal(e, value))) {
    errors.push(`${at(path)}${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if ("const" in schema && !equal(schema.const, value)) {
    errors.push(`${at(path)}${JSON.stringify(schema.const)} was expected`);
  }
  for (const sub of schema.allOf ?? []) check(sub, value, path, root, errors);
  if (schema.anyOf !== undefined) {
    if (!schema.anyOf.some((sub) => validateAt(sub, value, root).length === 0)) {
      errors.push(`${at(path)}${JSON.stringify(value)} matches none of the allowed shapes`);
    }
  }
  if (schema.oneOf !== undefined) {
    const passing = schema.oneOf.filter((sub) => validateAt(sub, value, root).length === 0).length;
    if (passing !== 1) errors.push(`${at(path)}${JSON.stringify(value)} must match exactly one allowed shape`);
  }
  if (schema.not !== undefined && validateAt(schema.not, value, root).length === 0) {
    errors.push(`${at(path)}${JSON.stringify(value)} is not allowed`);
  }
  switch (typeOf(value)) {
    case "string":
      checkString(schema, value, path, errors);
      break;
    case "integer":
    case "number":
      checkNumber(schema, value, path, errors);
      break;
    case "array":
      checkArray(schema, value, path, root, errors);
      break;
    case "object":
      checkObject(schema, value, path, root, errors);
      break;
  }
}

function validateAt(schema, value, root) {
  const errors = [];
  check(schema, value, "", root, errors);
  return errors;
}

function checkString(schema, value, path, errors) {
  const length = [...value].length;
  if (schema.minLength !== undefined && length < schema.minLength) {
    errors.push(`${at(path)}${JSON.stringify(value)} is shorter than ${schema.minLength} characters`);
  }
  if (schema.maxLength !== undefined && length > schema.maxLength) {
    errors.push(`${at(path)}${JSON.stringify(value)} is longer than ${schema.maxLength} characters`);
  }
  if (typeof schema.pattern === "string") {
    let re = null;
    try {
      re = new RegExp(schema.pattern, "u");
    } catch {
      re = null; // a pattern JavaScript cannot read: the server checks it
    }
    if (re && !re.test(value)) errors.push(`${at(path)}${JSON.stringify(value)} does not match '${schema.pattern}'`);
  }
}

function checkNumber(schema, value, path, errors) {
  const v = JSON.stringify(value);
  if (schema.minimum !== undefined && value < schema.minimum) errors.push(`${at(path)}${v} is less than ${schema.minimum}`);
  if (schema.maximum !== undefined && value > schema.maximum) errors.push(`${at(path)}${v} is more than ${schema.maximum}`);
  if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum) {
    errors.push(`${at(path)}${v} must be more than ${schema.exclusiveMinimum}`);
  }
  if (typeof schema.exclusiveMaximum === "number" && value >= schema.exclusiveMaximum) {
    errors.push(`${at(path)}${v} must be less than ${schema.exclusiveMaximum}`);
  }
  if (typeof schema.multipleOf === "number" && schema.multipleOf > 0) {
    const q = value / schema.multipleOf;
    if (Math.abs(q - Math.round(q)) > 1e-9) errors.push(`${at(path)}${v} is not a multiple of ${schema.multipleOf}`);
  }
}

function checkArray(schema, value, path, root, errors) {
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    errors.push(`${at(path)}needs at least ${schema.minItems} items`);
  }
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    errors.push(`${at(path)}has more than ${schema.maxItems} items`);
  }
  const prefix = schema.prefixItems ?? [];
  prefix.forEach((sub, i) => {
    if (i < value.length) check(sub, value[i], join(path, i), root, errors);
  });
  if (schema.items !== undefined) {
    for (let i = prefix.length; i < value.length; i++) check(schema.items, value[i], join(path, i), root, errors);
  }
  if (schema.uniqueItems === true) {
    const seen = new Set(value.map((v) => JSON.stringify(canonical(v))));
    if (seen.size !== value.length) errors.push(`${at(path)}has repeated items`);
  }
}

function checkObject(schema, value, path, root, errors) {
  for (const name of schema.required ?? []) {
    if (!(name in value)) errors.push(`${at(path)}'${name}' is a required property`);
  }
  const properties = schema.properties ?? {};
  for (const [name, sub] of Object.entries(properties)) {
    if (name in value) check(sub, value[name], join(path, name), root, errors);
  }
  const extra = Object.keys(value).filter((name) => !(name in properties));
  if (schema.additionalProperties === false && extra.length) {
    errors.push(`${at(path)}unexpected ${extra.map((n) => `'${n}'`).join(", ")}`);
  } else if (schema.additionalProperties && typeof schema.additionalProperties === "object") {
    for (const name of extra) check(schema.additionalProperties, value[name], join(path, name), root, errors);
  }
  const count = Object.keys(value).length;
  if (schema.minProperties !== undefined && count < schema.minProperties) {
    errors.push(`${at(path)}needs at least ${schema.minProperties} properties`);
  }
  if (schema.maxProperties !== undefined && count > schema.maxProperties) {
    errors.push(`${at(path)}has more than ${schema.maxProperties} properties`);
  }
}

function join(path, part) {
  return path === "" ? String(part) : `${path}/${part}`;
}

/** One line for a schema: "object {approved, reviewer}", "integer", "any". */
export function summary(schema) {
  if (!schema || typeof schema !== "object" || Object.keys(schema).length === 0) return "any JSON";
  if (schema.title && schema.type === "object") return `${schema.title} {${Object.keys(schema.properties ?? {}).join(", ")}}`;
  if (schema.type === "object") return `object {${Object.keys(schema.properties ?? {}).join(", ")}}`;
  if (schema.type === "array") return `array of ${summary(schema.items)}`;
  if (schema.type) return Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type;
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.anyOf) return schema.anyOf.map(summary).join(" | ");
  return "JSON";
}

/** A value of the shape `schema` describes (placeholders, not advice): what a form can suggest. */
export function example(schema, root = schema, depth = 0) {
  if (!schema || typeof schema !== "object" || depth > 6) return null;
  if (typeof schema.$ref === "string") return example(resolve(schema.$ref, root), root, depth + 1);
  if ("const" in schema) return schema.const;
  if (schema.enum?.length) return schema.enum[0];
  if (schema.default !== undefined) return schema.default;
  const options = schema.anyOf ?? schema.oneOf;
  if (options?.length) return example(options.find((o) => o.type !== "null") ?? options[0], root, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  switch (type) {
    case "object":
      return Object.fromEntries(
        Object.entries(schema.properties ?? {}).map(([name, sub]) => [name, example(sub, root, depth + 1)]),
      );
    case "array":
      return schema.prefixItems ? schema.prefixItems.map((s) => example(s, root, depth + 1)) : [];
    case "string":
      return "";
    case "integer":
    case "number":
      return 0;
    case "boolean":
      return false;
    default:
      return null;
  }
}
