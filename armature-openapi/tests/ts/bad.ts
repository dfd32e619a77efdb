// Must NOT compile: the generated client types `petId` as a number.
import { Client } from "./client";

export async function wrong(client: Client): Promise<void> {
  await client.getPetById({ petId: "ten" });
}
