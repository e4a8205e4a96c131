// recoveryLevel and recoverableDays of every key bundle, derived from the vault's soft-delete
// settings (api-compat §1.5, DeletionRecoveryLevel in the Key Vault REST spec). Invariant: these are
// never stored per key; a vault's retention and purge protection decide them at the moment of reading.
using Ironclad.ResourceManager.KeyVault;

namespace Ironclad.KeyVault.Keys;

public static class KeyRecovery
{
    public const string Purgeable = "Purgeable";
    public const string RecoverablePurgeable = "Recoverable+Purgeable";
    public const string Recoverable = "Recoverable";
    public const string CustomizedRecoverablePurgeable = "CustomizedRecoverable+Purgeable";
    public const string CustomizedRecoverable = "CustomizedRecoverable";

    /// <summary>The retention (days) above which the level is no longer "Customized" (the cloud's default and maximum).</summary>
    public const int DefaultRetentionDays = 90;

    /// <summary>The key bundle's attributes.recoveryLevel for keys of <paramref name="vault"/>.</summary>
    public static string Level(VaultRecord vault)
    {
        ArgumentNullException.ThrowIfNull(vault);
        if (!SoftDeleteEnabled(vault))
        {
            return Purgeable;
        }

        var customized = vault.SoftDeleteRetentionInDays < DefaultRetentionDays;
        return (customized, vault.EnablePurgeProtection) switch
        {
            (false, false) => RecoverablePurgeable,
            (false, true) => Recoverable,
            (true, false) => CustomizedRecoverablePurgeable,
            (true, true) => CustomizedRecoverable,
        };
    }

    /// <summary>The key bundle's attributes.recoverableDays (the vault's retention); null when soft delete is off.</summary>
    public static int? Days(VaultRecord vault)
    {
        ArgumentNullException.ThrowIfNull(vault);
        return SoftDeleteEnabled(vault) ? vault.SoftDeleteRetentionInDays : null;
    }

    // Soft delete is always on for vaults created here (VaultRules); a record without the property
    // counts as on too, as the cloud defaults it to true.
    private static bool SoftDeleteEnabled(VaultRecord vault) =>
        vault.Properties[VaultRules.EnableSoftDelete] is not { } node || (bool)node!;
}
