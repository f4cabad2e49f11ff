import assert from "node:assert/strict";
import { namedClients } from "../../src/config/clients.ts";
import { calendarMonth, ClientRegistry, type Month, monthStart } from "../../src/ledger/clients.ts";
import { Pricing } from "../../src/ledger/pricing.ts";

const CI = { name: "ci", token: "rly_ci_token_0002" };
const small = { input: 10, output: 10 };
/** A price for model `m`: a budget refuses and holds back only a request that costs something. */
const PRICED = new Pricing({ m: { input: 1, output: 1 } });

Deno.test("identify names the client whose token was offered, and nobody for a near miss", () => {
  const clients = new ClientRegistry(namedClients(["rly_plain_token_0001", CI]));
  assert.equal(clients.size, 2);
  assert.equal(clients.identify("rly_plain_token_0001"), "client-1");
  assert.equal(clients.identify("rly_ci_token_0002"), "ci");
  for (const near of ["rly_ci_token_000", "rly_ci_token_00022", "Rly_ci_token_0002", ""]) {
    assert.equal(clients.identify(near), undefined, near);
  }
});

Deno.test("a model outside the client's list is refused with 403, naming what it may use", () => {
  const clients = new ClientRegistry([{ ...CI, models: ["claude-haiku-*", "claude-sonnet-4-5"] }]);
  assert.equal(clients.admit("ci", { model: "claude-haiku-4-5", estimate: small }).ok, true);
  assert.equal(clients.admit("ci", { model: "claude-sonnet-4-5", estimate: small }).ok, true);
  assert.deepEqual(clients.admit("ci", { model: "claude-opus-4-1", estimate: small }), {
    ok: false,
    status: 403,
    message: "client ci may not use model claude-opus-4-1; allowed: claude-haiku-*, claude-sonnet-4-5",
  });
  assert.equal(clients.admit("ci", { model: undefined, estimate: small }).ok, true, "GET /v1/models");
  assert.equal(clients.admit(undefined, { model: "claude-opus-4-1", estimate: small }).ok, true, "no tokens");
});

Deno.test("usableModels names what a served list offers the client, globs narrowed to its own", () => {
  const clients = new ClientRegistry([
    { ...CI, models: ["claude-haiku-*", "claude-sonnet-4-5", "gpt-4"] },
    { name: "wide", token: "rly_wide_token_0003", models: ["claude-*"] },
    { name: "all", token: "rly_all_token_0004" },
  ]);
  const served = ["claude-*", "claude-sonnet-4-5", "claude-haiku-4-5", "glm-4.7", "secret-internal"];
  assert.deepEqual(clients.usableModels("ci", served), [
    "claude-haiku-*",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
  ]);
  assert.deepEqual(clients.usableModels("wide", served), [
    "claude-*",
    "claude-sonnet-4-5",
    "claude-haiku-4-5",
  ]);
  assert.deepEqual(clients.usableModels("all", served), served);
  assert.deepEqual(clients.usableModels(undefined, served), served, "no tokens");
  assert.deepEqual(clients.usableModels("ci", ["glm-4.7"]), []);
  const overlapping = new ClientRegistry([{ ...CI, models: ["claude-*-4-5", "gpt-4*"] }]);
  assert.deepEqual(
    overlapping.usableModels("ci", ["claude-sonnet-*", "gpt-4o", "claude-opus-4-1"]),
    ["claude-sonnet-*", "gpt-4o"],
    "a served glob that only meets the client's",
  );
});

Deno.test("rpm: the request over the limit gets 429 with the seconds until the window resets", () => {
  let now = 1_000;
  const clients = new ClientRegistry([{ ...CI, rpm: 2 }], { monotonic: () => now });
  assert.equal(clients.admit("ci", { model: "m", estimate: small }).ok, true);
  now += 15_000;
  assert.equal(clients.admit("ci", { model: "m", estimate: small }).ok, true);
  assert.deepEqual(clients.admit("ci", { model: "m", estimate: small }), {
    ok: false,
    status: 429,
    message: "client ci is over its limit of 2 requests per minute (rpm); retry in 45 s",
    retryAfterS: 45,
  });
  now += 45_000;
  assert.equal(clients.admit("ci", { model: "m", estimate: small }).ok, true, "a new minute");
});

Deno.test("rpm runs on the monotonic clock: a step back of the wall clock holds no client back", () => {
  let wall = Date.UTC(2026, 10, 17, 9);
  let monotonic = 1_000;
  const clients = new ClientRegistry([{ ...CI, rpm: 1 }], { now: () => wall, monotonic: () => monotonic });
  assert.equal(clients.admit("ci", { model: "m", estimate: small }).ok, true);
  wall -= 3_600_000;
  monotonic += 60_000;
  assert.equal(clients.admit("ci", { model: "m", estimate: small }).ok, true, "a new minute");
});

Deno.test("a cancelled admission gives back its request and its tokens", () => {
  const now = Date.UTC(2026, 10, 17, 9);
  const clients = new ClientRegistry([{ ...CI, rpm: 1, tpm: 1_000 }], { now: () => now });
  const first = clients.admit("ci", { model: "m", estimate: { input: 200, output: 600 } });
  assert.ok(first.ok);
  first.cancel();
  const second = clients.admit("ci", { model: "m", estimate: { input: 200, output: 800 } });
  assert.equal(second.ok, true, "neither the one request a minute nor the tokens were spent");
  assert.equal(clients.admit("ci", { model: "m", estimate: small }).ok, false);
});

Deno.test("tpm counts the estimate until the request settles what it really used", () => {
  const now = Date.UTC(2026, 10, 17, 9);
  const clients = new ClientRegistry([{ ...CI, tpm: 1_000 }], { now: () => now });
  const first = clients.admit("ci", { model: "m", estimate: { input: 700, output: 600 } });
  assert.ok(first.ok);
  const refused = clients.admit("ci", { model: "m", estimate: { input: 350, output: 200 } });
  assert.equal(refused.ok, false, "its input does not fit beside the first one's estimated input");
  assert.match(
    !refused.ok ? refused.message : "",
    /over its limit of 1000 tokens per minute \(tpm\); retry in 60 s/,
  );
  first.settle({ input: 500, output: 50 });
  assert.equal(clients.admit("ci", { model: "m", estimate: { input: 350, output: 200 } }).ok, true);
});

Deno.test("tpm counts max_tokens only as far as there is room: a bound above the limit is no refusal", () => {
  const now = Date.UTC(2026, 10, 17, 9);
  const clients = new ClientRegistry([{ ...CI, tpm: 16_000 }], { now: () => now });
  const claudeCode = { model: "m", estimate: { input: 2_000, output: 32_000 } };
  const first = clients.admit("ci", claudeCode);
  assert.ok(first.ok);
  first.settle({ input: 2_000, output: 100 });
  assert.equal(clients.admit("ci", claudeCode).ok, true, "2,100 of 16,000 used: the next one goes");
});

Deno.test("a spent monthly budget gets 403 saying what was spent and when it resets; a new month starts from zero", () => {
  let now = Date.UTC(2026, 10, 29, 23);
  const clients = new ClientRegistry([{ ...CI, monthly_budget_usd: 50 }, {
    name: "dev",
    token: "rly_dev_token_03",
  }], {
    now: () => now,
    pricing: PRICED,
    spent: new Map([["ci", 49.9]]),
  });
  assert.equal(clients.admit("ci", { model: "m", estimate: small }).ok, true);
  clients.charge("ci", 0.22, now);
  clients.charge("dev", 5, now);
  clients.charge("ci", 3, Date.UTC(2026, 9, 31)); // last month's request ending late: not this month's
  assert.equal(clients.spentThisMonth("ci"), 50.12);
  assert.deepEqual(clients.admit("ci", { model: "m", estimate: small }), {
    ok: false,
    status: 403,
    message: "monthly budget of $50.00 for client ci is spent ($50.12 this month); resets 2026-12-01",
  });
  assert.equal(clients.admit("dev", { model: "m", estimate: small }).ok, true, "no budget, no limit");
  now = Date.UTC(2026, 11, 1);
  assert.equal(clients.spentThisMonth("ci"), 0);
  assert.equal(clients.admit("ci", { model: "m", estimate: small }).ok, true);
});

Deno.test("a budget's refusals show amounts under a cent as they are, not as $0.00", () => {
  const now = Date.UTC(2026, 10, 17, 9);
  const clients = new ClientRegistry([{ ...CI, monthly_budget_usd: 0.005 }], {
    now: () => now,
    pricing: new Pricing({ m: { input: 10, output: 10 } }),
  });
  clients.charge("ci", 0.0049, now);
  const held = clients.admit("ci", { model: "m", estimate: small });
  assert.ok(held.ok, "$0.0049 spent and nothing held: under $0.005");
  assert.deepEqual(clients.admit("ci", { model: "m", estimate: small }), {
    ok: false,
    status: 429,
    message:
      "client ci's requests in flight may spend $0.0002 of its monthly budget of $0.0050 ($0.0049 spent " +
      "this month); retry once one ends",
    retryAfterS: 5,
  });
  clients.charge("ci", 0.0002, now);
  if (held.ok) held.settle(undefined);
  assert.deepEqual(clients.admit("ci", { model: "m", estimate: small }), {
    ok: false,
    status: 403,
    message: "monthly budget of $0.0050 for client ci is spent ($0.0051 this month); resets 2026-12-01",
  });
});

Deno.test("a budget adds its costs up exactly: ten charges of $0.10 spend a $1.00 budget", () => {
  const now = Date.UTC(2026, 10, 17, 9);
  const clients = new ClientRegistry([{ ...CI, monthly_budget_usd: 1 }], { now: () => now, pricing: PRICED });
  for (let request = 1; request <= 10; request++) {
    assert.equal(clients.admit("ci", { model: "m", estimate: small }).ok, true, `request ${request}`);
    clients.charge("ci", 0.1, now);
  }
  assert.equal(clients.spentThisMonth("ci"), 1, "not 0.9999999999999999");
  assert.equal(clients.admit("ci", { model: "m", estimate: small }).ok, false, "the eleventh");
});

Deno.test("written: a budgeted client's spend becomes what the file holds plus what is not written yet", () => {
  const now = Date.UTC(2026, 10, 17, 9);
  const clients = new ClientRegistry([{ ...CI, monthly_budget_usd: 1 }, {
    name: "dev",
    token: "rly_dev_token_03",
  }], { now: () => now, pricing: PRICED });
  clients.charge("ci", 0.25, now);
  clients.charge("ci", 0.5, now);
  clients.charge("dev", 2, now);
  const asked: [Month, readonly string[]][] = [];
  // The first charge is in the file now, beside $0.40 another relay wrote.
  clients.written([{ client: "ci", costUsd: 0.25, time: now }], (month, names) => {
    asked.push([month, names]);
    return new Map([["ci", 0.65]]);
  });
  assert.deepEqual(asked, [[calendarMonth(now), ["ci"]]], "only clients with a budget are read");
  assert.equal(clients.spentThisMonth("ci"), 1.15);
  assert.equal(clients.spentThisMonth("dev"), 2, "no budget: its own count");
  assert.equal(clients.admit("ci", { model: "m", estimate: small }).ok, false);

  assert.throws(
    () =>
      clients.written([{ client: "ci", costUsd: 0.5, time: now }], () => {
        throw new Error("database is locked");
      }),
    /database is locked/,
  );
  assert.equal(clients.spentThisMonth("ci"), 1.15, "a failed read keeps the count");
  clients.written([], () => new Map([["ci", 1.15]]));
  assert.equal(clients.spentThisMonth("ci"), 1.15, "the second charge was taken as written");
});

Deno.test("written reads nothing while no client has a budget", () => {
  const clients = new ClientRegistry([CI]);
  clients.charge("ci", 3, Date.now());
  clients.written([{ client: "ci", costUsd: 3, time: Date.now() }], () => assert.fail("read"));
  assert.equal(clients.spentThisMonth("ci"), 3);
});

Deno.test("monthStart is midnight UTC on the first; calendarMonth runs to the next month's", () => {
  assert.equal(monthStart(Date.UTC(2026, 10, 17, 9, 30)), Date.UTC(2026, 10, 1));
  assert.equal(monthStart(Date.UTC(2026, 0, 1)), Date.UTC(2026, 0, 1));
  assert.deepEqual(calendarMonth(Date.UTC(2026, 11, 31, 23, 59)), {
    since: Date.UTC(2026, 11, 1),
    until: Date.UTC(2027, 0, 1),
  });
});

const NOVEMBER = Date.UTC(2026, 10, 20);
const DECEMBER = Date.UTC(2026, 11, 3);

Deno.test("a month the clock leaves and comes back to keeps its spend, with no ledger to read it from", () => {
  let now = NOVEMBER;
  const clients = new ClientRegistry([{ ...CI, monthly_budget_usd: 15 }], {
    now: () => now,
    pricing: PRICED,
  });
  clients.charge("ci", 10, now);
  clients.charge("ci", 10, now);
  assert.equal(clients.admit("ci", { model: "m", estimate: small }).ok, false, "$20 of $15");
  now = DECEMBER;
  assert.equal(clients.spentThisMonth("ci"), 0, "a new month");
  // A request that arrived in November and ended once the clock had moved on is November's.
  clients.charge("ci", 1, NOVEMBER);
  assert.equal(clients.spentThisMonth("ci"), 0);
  now = NOVEMBER;
  assert.equal(clients.spentThisMonth("ci"), 21, "the clock set back finds November as it was");
  assert.equal(clients.admit("ci", { model: "m", estimate: small }).ok, false);
});

Deno.test("a month the registry turns to is read back from the ledger, with what is not written yet", () => {
  // Started while the clock was a month behind: October's spend was read at start.
  let now = Date.UTC(2026, 9, 21);
  const asked: [Month, readonly string[]][] = [];
  const clients = new ClientRegistry([{ ...CI, monthly_budget_usd: 15 }, {
    name: "dev",
    token: "rly_dev_token_03",
  }], {
    now: () => now,
    pricing: PRICED,
    spent: new Map([["ci", 2]]),
    readMonth: (month, names) => {
      asked.push([month, names]);
      if (month.since === calendarMonth(NOVEMBER).since) return new Map([["ci", 30]]);
      return month.since === calendarMonth(DECEMBER).since ? new Map() : undefined;
    },
  });
  assert.equal(clients.spentThisMonth("ci"), 2);
  assert.deepEqual(asked, [], "nothing read but at a turn");
  now = NOVEMBER;
  assert.equal(clients.spentThisMonth("ci"), 30, "the clock corrected: November as the file holds it");
  assert.equal(clients.admit("ci", { model: "m", estimate: small }).ok, false);
  assert.deepEqual(asked, [[calendarMonth(NOVEMBER), ["ci"]]], "once, for the clients with a budget");

  clients.charge("ci", 5, now); // not written yet when the clock jumps ahead
  now = DECEMBER;
  assert.equal(clients.spentThisMonth("ci"), 0);
  now = NOVEMBER;
  assert.equal(clients.spentThisMonth("ci"), 35, "the file's 30 and the unwritten 5");
  clients.written([{ client: "ci", costUsd: 5, time: now }]);
  now = Date.UTC(2026, 9, 21);
  assert.equal(clients.spentThisMonth("ci"), 2, "a month the file cannot be read for keeps relay's count");
});

Deno.test("only the last three months the clock was in keep their spend: an older one comes back from the ledger, or from zero", () => {
  const [september, october, november, december] = [8, 9, 10, 11].map((month) => Date.UTC(2026, month, 9));
  let now = september;
  const file = new Map<number, number>();
  const ledger = new ClientRegistry([{ ...CI, monthly_budget_usd: 100 }], {
    now: () => now,
    readMonth: (month) => new Map([["ci", file.get(month.since) ?? 0]]),
  });
  const alone = new ClientRegistry([{ ...CI, monthly_budget_usd: 100 }], { now: () => now });
  const both = [ledger, alone];
  const spent = () => both.map((clients) => clients.spentThisMonth("ci"));
  for (const clients of both) clients.charge("ci", 10, september);
  ledger.written([{ client: "ci", costUsd: 10, time: september }]);
  file.set(monthStart(september), 10);
  // Still queued for the file as the clock runs on.
  for (const clients of both) clients.charge("ci", 2, september);
  for (const month of [october, november, december]) {
    now = month;
    assert.deepEqual(spent(), [0, 0]);
    if (month === october) { for (const clients of both) clients.charge("ci", 1, month); }
  }
  now = october;
  assert.deepEqual(spent(), [1, 1], "October is one of the last three: kept (unwritten, for the ledger)");
  // September was forgotten as the clock went to December: the $2 written since is not taken off it.
  ledger.written([{ client: "ci", costUsd: 2, time: september }]);
  file.set(monthStart(september), 12);
  now = september;
  assert.deepEqual(spent(), [12, 0], "the file's $12, not $10; without a ledger, from zero");
});

Deno.test("reconfigure: a removed token stops at once, a new one works, and limits and spend carry over", () => {
  const now = Date.UTC(2026, 10, 17, 9);
  const clients = new ClientRegistry([{ ...CI, rpm: 1, monthly_budget_usd: 10 }, {
    name: "old",
    token: "rly_old_token_0003",
  }], { now: () => now });
  assert.equal(clients.admit("ci", { model: undefined, estimate: small }).ok, true);
  clients.charge("ci", 4, now);

  clients.reconfigure([{ ...CI, rpm: 1, monthly_budget_usd: 10 }, {
    name: "new",
    token: "rly_new_token_0004",
  }]);
  assert.equal(clients.identify("rly_old_token_0003"), undefined, "revoked at once");
  assert.equal(clients.identify("rly_new_token_0004"), "new");
  assert.equal(clients.admit("ci", { model: undefined, estimate: small }).ok, false, "the same rpm window");
  assert.equal(clients.spentThisMonth("ci"), 4, "the month's spend stays");

  clients.reconfigure([{ ...CI, rpm: 2, monthly_budget_usd: 10 }]);
  assert.equal(
    clients.admit("ci", { model: undefined, estimate: small }).ok,
    true,
    "a new limit, a new window",
  );
  assert.equal(clients.size, 1);
});

/** $0.40 a request of `{ input: 100, output: 30 }`: $0.10 of input, $0.30 of output. */
const HELD_PRICES = { m: { input: 1_000, output: 10_000 } };
const worstCase = { model: "m", estimate: { input: 100, output: 30 } };

Deno.test("a budgeted client's requests in flight hold their worst case: parallel requests cannot start on what is left", () => {
  const now = Date.UTC(2026, 10, 17, 9);
  const clients = new ClientRegistry([{ ...CI, monthly_budget_usd: 1 }], {
    now: () => now,
    pricing: new Pricing(HELD_PRICES),
  });
  const admitted = [0, 1, 2].map(() => clients.admit("ci", worstCase));
  assert.deepEqual(admitted.map(({ ok }) => ok), [true, true, true], "$0.00, $0.40, $0.80 held: under $1");
  assert.deepEqual(clients.admit("ci", worstCase), {
    ok: false,
    status: 429,
    message: "client ci's requests in flight may spend $1.20 of its monthly budget of $1.00 ($0.00 spent " +
      "this month); retry once one ends",
    retryAfterS: 5,
  }, "a wait, not a spent budget");
  assert.ok(
    clients.admit("ci", { model: "m", estimate: { input: 0, output: 0 } }).ok,
    "a request that costs nothing (a token count) is not held back by what others hold",
  );
  const [first, second, third] = admitted;
  assert.ok(first.ok && second.ok && third.ok);
  clients.charge("ci", 0.25, now);
  first.settle({ input: 100, output: 15 });
  first.settle({ input: 100, output: 15 });
  assert.equal(
    clients.admit("ci", worstCase).ok,
    false,
    "$0.25 spent and $0.80 held; ended twice, let go once",
  );
  second.cancel();
  const fourth = clients.admit("ci", worstCase);
  assert.equal(fourth.ok, true, "$0.25 spent and $0.40 held");
  assert.equal(clients.admit("ci", worstCase).ok, false, "$0.25 spent and $0.80 held");
  assert.equal(clients.spentThisMonth("ci"), 0.25, "a hold is never spend");
});

Deno.test("status shows each client's limits, how spent its windows are, its spend and what its requests in flight hold; never its token", () => {
  const now = Date.UTC(2026, 10, 17, 9);
  const clients = new ClientRegistry([
    { ...CI, rpm: 10, tpm: 1_300, monthly_budget_usd: 1, models: ["m", "claude-*"] },
    { name: "dev", token: "rly_dev_token_0003" },
  ], { now: () => now, monotonic: () => 0, pricing: new Pricing(HELD_PRICES) });
  const first = clients.admit("ci", worstCase);
  clients.admit("ci", worstCase);
  clients.charge("ci", 0.25, now);
  clients.charge("dev", 0.5, now);
  assert.ok(first.ok);
  first.settle({ input: 100, output: 30 });
  const status = clients.status();
  assert.deepEqual(status, [
    {
      name: "ci",
      models: ["m", "claude-*"],
      rpm: { limit: 10, saturation: 0.2 },
      tpm: { limit: 1_300, saturation: 0.2 },
      monthlyBudgetUsd: 1,
      spentUsd: 0.25,
      heldUsd: 0.4,
    },
    {
      name: "dev",
      models: undefined,
      rpm: undefined,
      tpm: undefined,
      monthlyBudgetUsd: undefined,
      spentUsd: 0.5,
      heldUsd: 0,
    },
  ]);
  assert.ok(!JSON.stringify(status).includes("rly_"), "no token");
});

Deno.test("a hold is priced by what the model runs as, the dearest of its routes: an alias holds the model behind it", () => {
  const now = Date.UTC(2026, 10, 17, 9);
  const clients = new ClientRegistry([{ ...CI, monthly_budget_usd: 1 }], {
    now: () => now,
    pricing: new Pricing({ ...HELD_PRICES, cheap: { input: 1, output: 1 } }),
  });
  const routes = {
    runsAs: (model: string) =>
      model === "fast" ? [{ provider: "b", model: "cheap" }, { provider: "a", model: "m" }] : [],
  };
  // "fast" has no price of its own: priced by its name, 50 requests would all start on $1.
  const alias = { ...worstCase, model: "fast", routes };
  const admitted = Array.from({ length: 50 }, () => clients.admit("ci", alias).ok);
  assert.deepEqual(admitted.filter(Boolean).length, 3, "$0.40 each, as m: $0.00, $0.40, $0.80 held");
});

Deno.test("a request that runs only where it is free (the mock) is neither held back nor refused by the budget", () => {
  const now = Date.UTC(2026, 10, 17, 9);
  const clients = new ClientRegistry([{ ...CI, monthly_budget_usd: 1 }], {
    now: () => now,
    pricing: new Pricing(HELD_PRICES, [{ name: "canned", type: "mock" }]),
  });
  const routes = {
    runsAs: (model: string) =>
      model === "mock-1" ? [{ provider: "canned", model: "mock-1" }] : [{ provider: "a", model }],
  };
  const free = { model: "mock-1", estimate: { input: 100, output: 1_000_000 }, routes };
  [0, 1, 2].forEach(() => assert.ok(clients.admit("ci", { ...worstCase, routes }).ok));
  assert.equal(clients.admit("ci", { ...worstCase, routes }).ok, false, "$1.20 held");
  assert.ok(clients.admit("ci", free).ok, "held back by nothing: it holds nothing");
  clients.charge("ci", 1, now);
  assert.equal(clients.admit("ci", { ...worstCase, routes }).ok, false, "spent");
  assert.ok(clients.admit("ci", free).ok, "spends none of it");
  assert.ok(clients.admit("ci", { model: "m", estimate: { input: 0, output: 0 } }).ok, "a token count");
});

Deno.test("a hold lasts across a month's turn and a reload keeping the client; new prices hold new requests", () => {
  let now = Date.UTC(2026, 10, 30, 23, 59);
  const clients = new ClientRegistry([{ ...CI, monthly_budget_usd: 1 }], {
    now: () => now,
    pricing: new Pricing(HELD_PRICES),
  });
  const admitted = [0, 1, 2].map(() => clients.admit("ci", worstCase));
  const [late, kept, other] = admitted;
  assert.ok(late.ok && kept.ok && other.ok);
  now = Date.UTC(2026, 11, 1);
  clients.reconfigure([{ ...CI, rpm: 10, monthly_budget_usd: 1 }]);
  clients.reprice(new Pricing({ m: { input: 1_000, output: 20_000 } }));
  assert.equal(clients.admit("ci", worstCase).ok, false, "a new month and a new config, $1.20 still held");
  late.settle(undefined);
  const dearer = clients.admit("ci", worstCase);
  assert.ok(dearer.ok, "$0.80 held");
  assert.deepEqual(clients.admit("ci", worstCase), {
    ok: false,
    status: 429,
    message: "client ci's requests in flight may spend $1.50 of its monthly budget of $1.00 ($0.00 spent " +
      "this month); retry once one ends",
    retryAfterS: 5,
  }, "the old requests hold the old price, $0.40 each, the new one the new, $0.70");
  for (const admission of [kept, other, dearer]) admission.cancel();
  const alone = clients.admit("ci", { model: "m", estimate: { input: 0, output: 50 } });
  assert.equal(alone.ok, true, "every hold let go exactly");
  assert.equal(clients.admit("ci", worstCase).ok, false, "$1.00 held: this one's worst case alone");
});

Deno.test("unpriced: a budgeted client may not send to a model with no price; others are never priced", () => {
  const now = Date.UTC(2026, 10, 17, 9);
  let lookups = 0;
  class CountedPricing extends Pricing {
    override priceOf(model: string | undefined) {
      lookups++;
      return super.priceOf(model);
    }
  }
  const clients = new ClientRegistry([{ ...CI, monthly_budget_usd: 1 }, {
    name: "dev",
    token: "rly_dev_token_03",
    rpm: 10,
  }], { now: () => now, pricing: new CountedPricing() });
  const free = clients.admit("dev", { model: "acme-large-1", estimate: small });
  assert.ok(free.ok);
  assert.equal(free.unpriced("acme-large-1"), undefined);
  free.settle(small);
  assert.equal(lookups, 0, "a client without a budget costs no price lookup");

  const budgeted = clients.admit("ci", { model: "acme-large-1", estimate: small });
  assert.ok(budgeted.ok, "admitted: another route may run it as a priced model");
  assert.equal(budgeted.unpriced("claude-sonnet-4-5"), undefined);
  assert.equal(
    budgeted.unpriced("acme-large-1"),
    "client ci has a monthly budget and no price is known for model acme-large-1; add it under " +
      "pricing: in the config",
  );
  clients.reprice(new Pricing({ "acme-large-1": { input: 5, output: 25 } }));
  assert.equal(budgeted.unpriced("acme-large-1"), undefined, "a price reloaded counts at once");
});
