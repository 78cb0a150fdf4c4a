// Services written with the official TypeScript SDK (plain JavaScript), served on 127.0.0.1 for
// awaken's protocol tests. One handler per command family, and the seed's awakeable story.
//
// Environment: ENDPOINT_HTTP_VERSION "2" (h2c, bidirectional) or "1.1" (request/response);
// ENDPOINT_IDENTITY_KEYS: comma-separated publickeyv1_... keys to require (optional).
// Prints one JSON line {"port": N} on stdout once listening on a free port.
"use strict";

// @restatedev/restate-sdk >= 1.15 calls Promise.withResolvers, native only from Node 22.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

const http = require("node:http");
const http2 = require("node:http2");
const restate = require("@restatedev/restate-sdk");

const greeter = restate.service({
  name: "Greeter",
  handlers: {
    greet: async (ctx, name) => `Hello ${name}!`,
  },
});

// The seed: create an awakeable, hand its id out inside ctx.run, await it.
const reviews = restate.service({
  name: "Reviews",
  handlers: {
    review: async (ctx, name) => {
      const { id, promise } = ctx.awakeable();
      await ctx.run("request human review", () => ({ reviewer: "reviewers@example.com", awakeableId: id, name }));
      const verdict = await promise;
      return `${name}: ${verdict}`;
    },
    resolve: async (ctx, req) => {
      ctx.resolveAwakeable(req.id, req.value);
    },
    reject: async (ctx, req) => {
      ctx.rejectAwakeable(req.id, req.reason);
    },
  },
});

const counter = restate.object({
  name: "Counter",
  handlers: {
    add: async (ctx, n) => {
      const current = (await ctx.get("count")) ?? 0;
      ctx.set("count", current + n);
      return current + n;
    },
    get: restate.handlers.object.shared(async (ctx) => (await ctx.get("count")) ?? 0),
    keys: restate.handlers.object.shared(async (ctx) => await ctx.stateKeys()),
    reset: async (ctx) => {
      ctx.clear("count");
      ctx.clearAll();
    },
  },
});

const lazyCounter = restate.object({
  name: "LazyCounter",
  handlers: {
    add: async (ctx, n) => {
      const current = (await ctx.get("count")) ?? 0;
      ctx.set("count", current + n);
      return current + n;
    },
  },
  options: { enableLazyState: true },
});

const sleeper = restate.service({
  name: "Sleeper",
  handlers: {
    sleep: async (ctx, ms) => {
      await ctx.sleep(ms);
      return "slept";
    },
  },
});

const caller = restate.service({
  name: "Caller",
  handlers: {
    call: async (ctx, name) => await ctx.serviceClient(greeter).greet(name, restate.rpc.opts({ idempotencyKey: `call-${name}` })),
    send: async (ctx, name) => {
      const handle = ctx.serviceSendClient(greeter).greet(name, restate.rpc.sendOpts({ delay: 5000, idempotencyKey: `send-${name}` }));
      return await handle.invocationId;
    },
    attach: async (ctx, invocationId) => await ctx.invocation(invocationId).attach(),
    cancel: async (ctx, invocationId) => {
      ctx.invocation(invocationId).cancel();
      return "cancelled";
    },
  },
});

const runner = restate.service({
  name: "Runner",
  handlers: {
    run: async (ctx, x) => await ctx.run("double", () => x * 2),
    // A step that runs until the test creates the file `gate` names.
    hold: async (ctx, gate) =>
      await ctx.run("held", async () => {
        while (!fs.existsSync(gate)) await new Promise((r) => setTimeout(r, 10));
        return "released";
      }),
  },
});

const signup = restate.workflow({
  name: "Signup",
  handlers: {
    run: async (ctx, email) => {
      const code = await ctx.promise("confirmation").get();
      return `${email} confirmed with ${code}`;
    },
    confirm: async (ctx, code) => {
      await ctx.promise("confirmation").resolve(code);
    },
    peek: async (ctx) => (await ctx.promise("confirmation").peek()) ?? null,
  },
});

const flaky = restate.service({
  name: "Flaky",
  handlers: {
    fail: async () => {
      throw new Error("flaky failure");
    },
    failRun: async (ctx) => {
      await ctx.run("flaky step", () => {
        throw new restate.RetryableError("not yet", { retryAfter: 1500 });
      });
      return "unreachable";
    },
    terminal: async () => {
      throw new restate.TerminalError("no such order", { errorCode: 404 });
    },
  },
  options: { retryPolicy: { maxAttempts: 3, initialInterval: 100 } },
});

// Takes another path when replayed: the SDK reports a journal mismatch (code 570).
const seen = new Set();
const nondeterministic = restate.service({
  name: "Nondeterministic",
  handlers: {
    run: async (ctx) => {
      const id = ctx.request().id;
      if (!seen.has(id)) {
        seen.add(id);
        await ctx.run("first path", () => "a");
      } else {
        await ctx.sleep(10);
      }
      await ctx.sleep(1000);
      return "unreachable on replay";
    },
  },
});

// Calls any service by name: mixes of remote and local handlers.
const proxy = restate.service({
  name: "Proxy",
  handlers: {
    call: async (ctx, req) =>
      await ctx.genericCall({
        service: req.service,
        method: req.handler,
        key: req.key,
        parameter: new TextEncoder().encode(JSON.stringify(req.body)),
        outputSerde: restate.serde.json,
      }),
  },
});

// A virtual object whose exclusive handler holds its key while it waits on an awakeable.
const locker = restate.object({
  name: "Locker",
  handlers: {
    hold: async (ctx) => {
      const { id, promise } = ctx.awakeable();
      await ctx.run("hand out", () => ({ awakeableId: id }));
      return await promise;
    },
    touch: async (ctx) => {
      const n = ((await ctx.get("touches")) ?? 0) + 1;
      ctx.set("touches", n);
      return n;
    },
  },
});

// Side effects recorded in files of ENDPOINT_EFFECTS_DIR (they survive awaken being killed), and
// a step that waits until the test creates release.<tag> there.
const fs = require("node:fs");
const path = require("node:path");
const effectsDir = process.env.ENDPOINT_EFFECTS_DIR || "";
const record = (name, tag) => fs.appendFileSync(path.join(effectsDir, name), `${tag}\n`);
const released = async (tag) => {
  while (!fs.existsSync(path.join(effectsDir, `release.${tag}`))) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
const durable = restate.service({
  name: "Durable",
  handlers: {
    steps: async (ctx, tag) => {
      const a = await ctx.run("first", () => {
        record("first", tag);
        return 1;
      });
      const b = await ctx.run("second", async () => {
        record("second", tag);
        await released(tag);
        return 2;
      });
      return a + b;
    },
  },
});

const identityKeys = (process.env.ENDPOINT_IDENTITY_KEYS || "").split(",").filter((k) => k.length > 0);
const handler = restate.createEndpointHandler({
  services: [greeter, reviews, counter, lazyCounter, sleeper, caller, runner, signup, flaky, nondeterministic, proxy, locker, durable],
  ...(identityKeys.length > 0 ? { identityKeys } : {}),
});

const httpVersion = process.env.ENDPOINT_HTTP_VERSION || "2";
const server = httpVersion === "1.1" ? http.createServer(handler) : http2.createServer(handler);
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + "\n");
});
// Exit at once: a graceful close would wait for the runtime's pooled keep-alive connections.
const stop = () => process.exit(0);
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
