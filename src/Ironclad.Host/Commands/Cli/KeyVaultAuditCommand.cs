// `ironclad keyvault audit list|verify`: the vault audit log's read API on Resource Manager (an
// Ironclad extension: .../vaults/{name}/auditRecords and .../verifyAuditLog). `verify` prints the
// verdict and exits 1 when the chain is broken, so scripts can gate on it.
using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Ironclad.Host.Cli;
using static Ironclad.Host.Commands.Cli.CliCommand;

namespace Ironclad.Host.Commands.Cli;

internal static class KeyVaultAuditCommand
{
    private static readonly Column[] RecordColumns =
    [
        Column.Path("Sequence", "sequence"), Column.Path("Time", "time"), Column.Path("Operation", "operation"), Column.Path("Key", "keyName"),
        Column.Path("Status", "status"), Column.Path("Result", "result"), Column.Path("Caller", "callerObjectId"), Column.Path("Address", "clientAddress"),
    ];

    private static readonly Column[] VerifyColumns =
        [Column.Path("Valid", "valid"), Column.Path("Records", "records"), Column.Path("FirstBroken", "firstBrokenSequence"), Column.Path("Problem", "problem")];

    public static Command Create() => Group("audit", "Read and verify the vault audit log (every data-plane call, hash-chained).", List(), Verify());

    private static Option<string> Vault() => new("--name", "-n", "--vault-name") { Description = "Name of the key vault.", Required = true };

    private static Option<string?> ResourceGroup() => new("--resource-group", "-g") { Description = "The vault's resource group (default: looked up)." };

    private static Command List()
    {
        var vault = Vault();
        var group = ResourceGroup();
        var top = new Option<int?>("--top") { Description = "At most this many records (default: all)." };
        var since = new Option<string?>("--since", "--start-time") { Description = "Only records at or after this ISO 8601 date-time." };
        var until = new Option<string?>("--until", "--end-time") { Description = "Only records before this ISO 8601 date-time." };
        return Leaf("list", "List a vault's audit records, oldest first.", [vault, group, top, since, until], RecordColumns, async (call, ct) =>
        {
            var query = new List<string>();
            if (call.Value(since) is { } from)
            {
                query.Add("since=" + Uri.EscapeDataString(from));
            }

            if (call.Value(until) is { } to)
            {
                query.Add("until=" + Uri.EscapeDataString(to));
            }

            var path = await VaultPathAsync(call, call.Value(vault), call.Value(group), ct) + "/auditRecords";
            if (call.Value(top) is { } count)
            {
                if (count < 1)
                {
                    throw new CliException("InvalidArgument", "--top must be at least 1.");
                }

                var records = new JsonArray();
                string? next = path + "?" + string.Join('&', query.Append("$top=" + Math.Min(count, 1000).ToString(CultureInfo.InvariantCulture)));
                while (next is not null && records.Count < count)
                {
                    var page = await call.Connection.SendAsync(HttpMethod.Get, next, next.StartsWith("https://", StringComparison.Ordinal) ? "" : ArmConnection.KeyVaultApiVersion, null, ct);
                    foreach (var record in page?["value"]?.AsArray() ?? [])
                    {
                        if (records.Count < count)
                        {
                            records.Add(record?.DeepClone());
                        }
                    }

                    next = page?["nextLink"]?.GetValue<string>();
                }

                return records;
            }

            return await call.Connection.ListAsync(query.Count == 0 ? path : path + "?" + string.Join('&', query), ArmConnection.KeyVaultApiVersion, ct);
        });
    }

    private static Command Verify()
    {
        var vault = Vault();
        var group = ResourceGroup();
        return Leaf("verify", "Recompute the audit log's hash chain; exit 1 and name the first broken record if it was altered.", [vault, group], VerifyColumns, async (call, ct) =>
        {
            var path = await VaultPathAsync(call, call.Value(vault), call.Value(group), ct) + "/verifyAuditLog";
            var result = await call.Connection.SendAsync(HttpMethod.Post, path, ArmConnection.KeyVaultApiVersion, null, ct)
                ?? throw new CliException("InvalidResponse", "The server answered verifyAuditLog without a body.");
            if (result["valid"]?.GetValue<bool>() == true)
            {
                return result;
            }

            // Print the verdict for the reader, then fail the command.
            CliOutput.Write(call.ParseResult.InvocationConfiguration.Output, OutputFormat.Json, result, VerifyColumns);
            throw new CliException("AuditLogBroken",
                $"The audit log fails verification at record {CliOutput.Select(result, "firstBrokenSequence")}: {CliOutput.Select(result, "problem")}");
        });
    }

    private static async Task<string> VaultPathAsync(CliInvocation call, string vault, string? group, CancellationToken ct)
    {
        if (group is { Length: > 0 })
        {
            return $"/subscriptions/{call.Subscription}/resourceGroups/{Uri.EscapeDataString(group)}/providers/Microsoft.KeyVault/vaults/{Uri.EscapeDataString(vault)}";
        }

        var found = await KeyVaultKeyCommand.FindVaultAsync(call, vault, ct);
        return CliOutput.Select(found, "id") ?? throw new CliException("InvalidResponse", $"The vault '{vault}' has no id.");
    }
}
