// AWS Amplify JS v6 (`generateClient` from `aws-amplify/api`) pointed at a Syncline server,
// driven by tests/e2e/test_amplify_js.py.
//
// Environment: SYNCLINE_GRAPHQL_URL (https://127.0.0.1:PORT/graphql), SYNCLINE_API_KEY, and
// NODE_EXTRA_CA_CERTS naming the server's self-signed certificate (TLS checks stay on).
//
// Reads one JSON command per stdin line and prints one JSON object per stdout line:
//   {"op":"subscribe","id":"s1","filter":{...}?}   → {"event":"ready","id":"s1"} once start_ack
//        arrived, then {"event":"data","id":"s1","data":{...}} per event, or {"event":"error",...}
//   {"op":"create","id":"m1","input":{...}}        → {"event":"result","id":"m1","data":{...}}
//   {"op":"exit"}                                  → unsubscribes everything and exits 0
// Commands run one after another, so a `ready` always belongs to the subscribe just sent.
// Amplify only reads the global WebSocket, which node 20 lacks without a flag: `ws` fills in.

import readline from 'node:readline';
import WebSocket from 'ws';
import { Amplify } from 'aws-amplify';
import { Hub } from 'aws-amplify/utils';
import { generateClient } from 'aws-amplify/api';

globalThis.WebSocket ??= WebSocket;

const endpoint = process.env.SYNCLINE_GRAPHQL_URL;
const apiKey = process.env.SYNCLINE_API_KEY;
if (!endpoint || !apiKey) {
  console.error('set SYNCLINE_GRAPHQL_URL and SYNCLINE_API_KEY');
  process.exit(2);
}

Amplify.configure({
  API: {
    GraphQL: {
      endpoint,
      region: 'us-east-1', // unused with apiKey auth; Amplify's config type wants one
      defaultAuthMode: 'apiKey',
      apiKey,
    },
  },
});

const client = generateClient();

const FIELDS = 'id title done priority tags createdAt updatedAt';
const ON_CREATE = `subscription OnCreateTodo($filter: ModelSubscriptionTodoFilterInput) {
  onCreateTodo(filter: $filter) { ${FIELDS} }
}`;
const CREATE = `mutation CreateTodo($input: CreateTodoInput!) {
  createTodo(input: $input) { ${FIELDS} }
}`;

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const subscriptions = new Map();

// Amplify announces each start_ack on the Hub's `api` channel (CONTROL_MSG.SUBSCRIPTION_ACK).
let onAck = null;
Hub.listen('api', ({ payload }) => {
  if (payload.event === 'Subscription ack' && onAck) onAck();
});

// Amplify wraps errors in GraphQLError; the original (a fetch failure, a service error named
// after x-amzn-ErrorType) is on originalError, and a network failure's reason on its causes.
function errorsOf(err) {
  const errors = err?.errors ?? [err];
  return errors.map((e) => {
    const causes = [];
    for (let c = e?.originalError; c && causes.length < 5; c = c.cause ?? c.underlyingError) causes.push(String(c.code ?? c.name ?? c));
    return { message: String(e?.message ?? e), causes };
  });
}

function subscribe({ id, filter }) {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (line) => {
      if (settled) return;
      settled = true;
      onAck = null;
      emit(line);
      resolve();
    };
    onAck = () => settle({ event: 'ready', id });
    const variables = filter ? { filter } : {};
    const sub = client.graphql({ query: ON_CREATE, variables }).subscribe({
      next: ({ data }) => emit({ event: 'data', id, data }),
      error: (err) => {
        if (settled) emit({ event: 'error', id, errors: errorsOf(err) });
        else settle({ event: 'error', id, errors: errorsOf(err) });
      },
    });
    subscriptions.set(id, sub);
  });
}

async function create({ id, input }) {
  try {
    const result = await client.graphql({ query: CREATE, variables: { input } });
    emit({ event: 'result', id, data: result.data });
  } catch (err) {
    emit({ event: 'error', id, errors: errorsOf(err) });
  }
}

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line);
  if (cmd.op === 'subscribe') await subscribe(cmd);
  else if (cmd.op === 'create') await create(cmd);
  else if (cmd.op === 'exit') break;
  else emit({ event: 'error', id: cmd.id, errors: [{ message: `unknown op ${cmd.op}` }] });
}
for (const sub of subscriptions.values()) sub.unsubscribe();
process.exit(0);
