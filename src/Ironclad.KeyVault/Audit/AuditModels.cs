// The audit log's records: one per data-plane call, allowed or refused, in a hash chain
// (hash = SHA-256 over the previous hash and the record's canonical JSON). Invariant: a record holds
// who, what, which key, the result and where from — never key material, plaintexts, ciphertexts,
// signatures, tokens or request bodies.
namespace Ironclad.KeyVault.Audit;

/// <summary>What the edge knows about a call; the log adds sequence, time and hashes.</summary>
/// <param name="Operation">The cloud's operation name, e.g. KeyCreate, KeyGet, KeyUnwrap, KeyPurge, Authentication.</param>
/// <param name="Status">The HTTP status answered.</param>
/// <param name="Result">"Success" or the error code answered (e.g. Forbidden/KeyDisabled).</param>
public sealed record AuditEntry(
    Guid? TenantId,
    Guid? CallerObjectId,
    Guid? CallerAppId,
    string Vault,
    string Operation,
    string? KeyName,
    string? KeyVersion,
    int Status,
    string Result,
    string? ClientAddress);

public sealed record AuditRecord(
    long Sequence,
    DateTimeOffset Time,
    AuditEntry Entry,
    string PreviousHash,
    string Hash);

/// <param name="Vault">Only this vault's records (null = all).</param>
/// <param name="After">Only records with a larger sequence number (paging).</param>
public sealed record AuditQuery(string? Vault, DateTimeOffset? Since, DateTimeOffset? Until, long After, int MaxResults);

/// <summary>The outcome of checking the whole chain: ok, or the first record that breaks it and why.</summary>
public sealed record AuditVerification(bool Valid, long Records, long? FirstBrokenSequence, string? Problem);

public interface IKeyVaultAudit
{
    /// <summary>Appends before the response is sent; throws if the record cannot be written (the call then fails with 500).</summary>
    AuditRecord Append(AuditEntry entry);

    IReadOnlyList<AuditRecord> List(AuditQuery query);

    AuditVerification Verify();
}
