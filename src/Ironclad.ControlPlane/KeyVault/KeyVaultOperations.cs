// The catalog of keys data-plane operations: for each one its audit name (the cloud's AuditEvent
// operationName), the access-policy key permission it needs and the RBAC data action it needs.
// Invariant: every routed request maps to exactly one entry here, so authorization and the audit log
// can never disagree about what a call was.
namespace Ironclad.ControlPlane.KeyVault;

internal enum KeyVaultOperationKind
{
    Create,
    Import,
    Get,
    List,
    ListVersions,
    Update,
    Rotate,
    GetRotationPolicy,
    SetRotationPolicy,
    Backup,
    Restore,
    Delete,
    GetDeleted,
    ListDeleted,
    Recover,
    Purge,
    Encrypt,
    Decrypt,
    WrapKey,
    UnwrapKey,
    Sign,
    Verify,
}

/// <param name="AuditName">The operation name in the audit log (KeyCreate, KeyUnwrap, ...).</param>
/// <param name="Permission">The access-policy key permission, lower-cased as VaultAccessPolicy stores it.</param>
/// <param name="DataAction">The RBAC data action checked at the vault (or key) scope.</param>
/// <param name="BodyLimitBytes">The largest request body accepted (0 = the operation takes no body).</param>
internal sealed record KeyVaultOperation(KeyVaultOperationKind Kind, string AuditName, string Permission, string DataAction, int BodyLimitBytes);

internal static class KeyVaultOperations
{
    /// <summary>Bodies of ordinary calls are small (a JWK-free JSON object, at most a 4096-bit value).</summary>
    public const int SmallBodyLimitBytes = 64 * 1024;

    /// <summary>Import (a private JWK) and restore (every version of a key) may be larger.</summary>
    public const int LargeBodyLimitBytes = 4 * 1024 * 1024;

    /// <summary>The audit name of a request that reached a vault but no operation (unknown path or method).</summary>
    public const string UnknownAuditName = "Unknown";

    private const string Keys = "Microsoft.KeyVault/vaults/keys/";
    private const string RotationPolicies = "Microsoft.KeyVault/vaults/keyrotationpolicies/";

    private static readonly KeyVaultOperation[] All =
    [
        new(KeyVaultOperationKind.Create, "KeyCreate", "create", Keys + "create/action", SmallBodyLimitBytes),
        new(KeyVaultOperationKind.Import, "KeyImport", "import", Keys + "import/action", LargeBodyLimitBytes),
        new(KeyVaultOperationKind.Get, "KeyGet", "get", Keys + "read", 0),
        new(KeyVaultOperationKind.List, "KeyList", "list", Keys + "read", 0),
        new(KeyVaultOperationKind.ListVersions, "KeyListVersions", "list", Keys + "read", 0),
        new(KeyVaultOperationKind.Update, "KeyUpdate", "update", Keys + "update/action", SmallBodyLimitBytes),
        new(KeyVaultOperationKind.Rotate, "KeyRotate", "rotate", Keys + "rotate/action", 0),
        new(KeyVaultOperationKind.GetRotationPolicy, "KeyRotationPolicyGet", "getrotationpolicy", RotationPolicies + "read", 0),
        new(KeyVaultOperationKind.SetRotationPolicy, "KeyRotationPolicySet", "setrotationpolicy", RotationPolicies + "write", SmallBodyLimitBytes),
        new(KeyVaultOperationKind.Backup, "KeyBackup", "backup", Keys + "backup/action", 0),
        new(KeyVaultOperationKind.Restore, "KeyRestore", "restore", Keys + "restore/action", LargeBodyLimitBytes),
        new(KeyVaultOperationKind.Delete, "KeyDelete", "delete", Keys + "delete", 0),
        new(KeyVaultOperationKind.GetDeleted, "KeyGetDeleted", "get", Keys + "read", 0),
        new(KeyVaultOperationKind.ListDeleted, "KeyListDeleted", "list", Keys + "read", 0),
        new(KeyVaultOperationKind.Recover, "KeyRecover", "recover", Keys + "recover/action", 0),
        new(KeyVaultOperationKind.Purge, "KeyPurge", "purge", Keys + "purge/action", 0),
        new(KeyVaultOperationKind.Encrypt, "KeyEncrypt", "encrypt", Keys + "encrypt/action", SmallBodyLimitBytes),
        new(KeyVaultOperationKind.Decrypt, "KeyDecrypt", "decrypt", Keys + "decrypt/action", SmallBodyLimitBytes),
        new(KeyVaultOperationKind.WrapKey, "KeyWrap", "wrapkey", Keys + "wrap/action", SmallBodyLimitBytes),
        new(KeyVaultOperationKind.UnwrapKey, "KeyUnwrap", "unwrapkey", Keys + "unwrap/action", SmallBodyLimitBytes),
        new(KeyVaultOperationKind.Sign, "KeySign", "sign", Keys + "sign/action", SmallBodyLimitBytes),
        new(KeyVaultOperationKind.Verify, "KeyVerify", "verify", Keys + "verify/action", SmallBodyLimitBytes),
    ];

    public static KeyVaultOperation Get(KeyVaultOperationKind kind) => All[(int)kind];

    /// <summary>The wire name of a key operation, as the cloud spells it in messages (wrapKey, unwrapKey, ...).</summary>
    public static string WireName(KeyVaultOperationKind kind) => kind switch
    {
        KeyVaultOperationKind.Encrypt => "encrypt",
        KeyVaultOperationKind.Decrypt => "decrypt",
        KeyVaultOperationKind.WrapKey => "wrapKey",
        KeyVaultOperationKind.UnwrapKey => "unwrapKey",
        KeyVaultOperationKind.Sign => "sign",
        KeyVaultOperationKind.Verify => "verify",
        _ => kind.ToString(),
    };
}
