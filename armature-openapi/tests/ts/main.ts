// Calls the Petstore mock server through the generated client; prints what it got as JSON.
// Run by tests/it/client.rs after `tsc --strict` compiled it with client.ts.
import { ApiError, Client, Pet } from "./client";

// Node's `process`, declared here so the test needs no @types/node.
declare const process: { argv: string[]; exit(code: number): never };

async function main(): Promise<void> {
  const client = new Client({ baseUrl: process.argv[2] });
  const pet: Pet = await client.getPetById({ petId: 10 });
  const found: Pet[] = await client.findPetsByStatus({ status: "sold" });
  const added: Pet = await client.addPet({ body: { name: "rex", photoUrls: [], status: "pending" } });
  const inventory: { [key: string]: number } = await client.getInventory();
  const token: string = await client.loginUser({ username: "u", password: "p" });
  await client.deletePet({ petId: 1, api_key: "k" });
  let rejected: { status: number; body: unknown } | null = null;
  try {
    // Valid TypeScript, invalid per the document (a name is required): the mock says 422.
    await client.addPet({ body: { photoUrls: [] } as unknown as Pet });
  } catch (err) {
    if (err instanceof ApiError) rejected = { status: err.status, body: err.body };
    else throw err;
  }
  console.log(JSON.stringify({ pet, found, added, inventory, token, rejected }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
