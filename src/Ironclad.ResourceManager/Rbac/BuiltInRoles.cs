// Azure's built-in role definitions that Ironclad serves, with Azure's GUIDs and permission lists
// (Azure built-in roles documentation, "General", "Privileged" and "Security" categories; Contributor
// keeps only the NotActions that concern resource types Ironclad has). Never change a GUID.
namespace Ironclad.ResourceManager.Rbac;

public static class BuiltInRoles
{
    public static readonly Guid OwnerId = Guid.Parse("8e3af657-a8ff-443c-a75c-2fe8c4bcb635");
    public static readonly Guid ContributorId = Guid.Parse("b24988ac-6180-42a0-ab88-20f7382dd24c");
    public static readonly Guid ReaderId = Guid.Parse("acdd72a7-3385-48ef-bd42-f606fba81ae7");
    public static readonly Guid UserAccessAdministratorId = Guid.Parse("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9");
    public static readonly Guid KeyVaultAdministratorId = Guid.Parse("00482a5a-887f-4fb3-b363-3b7fe8e74483");
    public static readonly Guid KeyVaultCryptoOfficerId = Guid.Parse("14b46e9e-c2b7-41b4-b07b-48a6ebf60603");
    public static readonly Guid KeyVaultCryptoUserId = Guid.Parse("12338af0-0e69-4776-bea7-57ae8d297424");
    public static readonly Guid KeyVaultCryptoServiceEncryptionUserId = Guid.Parse("e147488a-f6f5-4113-8e2d-b22465e65bf6");

    private static readonly string[] None = [];

    // The management-plane actions shared by the Key Vault data-plane roles (Administrator, Crypto Officer).
    private static readonly string[] KeyVaultReaderActions =
    [
        "Microsoft.Authorization/*/read",
        "Microsoft.Insights/alertRules/*",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Support/*",
        "Microsoft.KeyVault/checkNameAvailability/read",
        "Microsoft.KeyVault/deletedVaults/read",
        "Microsoft.KeyVault/locations/*/read",
        "Microsoft.KeyVault/vaults/*/read",
        "Microsoft.KeyVault/operations/read",
    ];

    public static readonly IReadOnlyList<RoleDefinition> All =
    [
        Role(OwnerId, "Owner", "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
            ["*"], None, None),
        Role(ContributorId, "Contributor",
            "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
            ["*"],
            [
                "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/elevateAccess/Action",
                "Microsoft.Blueprint/blueprintAssignments/write",
                "Microsoft.Blueprint/blueprintAssignments/delete",
                "Microsoft.Compute/galleries/share/action",
                "Microsoft.Purview/consents/write",
                "Microsoft.Purview/consents/delete",
                "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
            ],
            None),
        Role(ReaderId, "Reader", "View all resources, but does not allow you to make any changes.", ["*/read"], None, None),
        Role(UserAccessAdministratorId, "User Access Administrator", "Lets you manage user access to Azure resources.",
            ["*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"], None, None),
        Role(KeyVaultAdministratorId, "Key Vault Administrator",
            "Perform all data plane operations on a key vault and all objects in it, including certificates, keys, and secrets. Cannot manage key vault resources or manage role assignments. Only works for key vaults that use the 'Azure role-based access control' permission model.",
            KeyVaultReaderActions, None, ["Microsoft.KeyVault/vaults/*"]),
        Role(KeyVaultCryptoOfficerId, "Key Vault Crypto Officer",
            "Perform any action on the keys of a key vault, except manage permissions. Only works for key vaults that use the 'Azure role-based access control' permission model.",
            KeyVaultReaderActions, None, ["Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keyrotationpolicies/*"]),
        Role(KeyVaultCryptoUserId, "Key Vault Crypto User",
            "Perform cryptographic operations using keys. Only works for key vaults that use the 'Azure role-based access control' permission model.",
            None, None,
            [
                "Microsoft.KeyVault/vaults/keys/read",
                "Microsoft.KeyVault/vaults/keys/update/action",
                "Microsoft.KeyVault/vaults/keys/backup/action",
                "Microsoft.KeyVault/vaults/keys/encrypt/action",
                "Microsoft.KeyVault/vaults/keys/decrypt/action",
                "Microsoft.KeyVault/vaults/keys/wrap/action",
                "Microsoft.KeyVault/vaults/keys/unwrap/action",
                "Microsoft.KeyVault/vaults/keys/sign/action",
                "Microsoft.KeyVault/vaults/keys/verify/action",
            ]),
        Role(KeyVaultCryptoServiceEncryptionUserId, "Key Vault Crypto Service Encryption User",
            "Read metadata of keys and perform wrap/unwrap operations. Only works for key vaults that use the 'Azure role-based access control' permission model.",
            ["Microsoft.EventGrid/eventSubscriptions/write", "Microsoft.EventGrid/eventSubscriptions/read", "Microsoft.EventGrid/eventSubscriptions/delete"],
            None,
            ["Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/wrap/action", "Microsoft.KeyVault/vaults/keys/unwrap/action"]),
    ];

    /// <summary>The built-in with this GUID, or null.</summary>
    public static RoleDefinition? Find(Guid id) => All.FirstOrDefault(r => r.Id == id);

    private static RoleDefinition Role(Guid id, string name, string description, string[] actions, string[] notActions, string[] dataActions) =>
        new(id, name, description, "BuiltInRole", [new RolePermissionBlock(actions, notActions, dataActions, None)], ["/"]);
}
