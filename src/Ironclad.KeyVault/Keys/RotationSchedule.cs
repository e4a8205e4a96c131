// Rotation policies: the cloud's validation rules (Key Vault "Configure key auto-rotation": Rotate
// or Notify actions; rotation at least 7 days after creation or before expiry; timeBeforeExpiry
// needs expiryTime; expiryTime at least 28 days), their stored JSON form, the cloud's default policy
// (Notify 30 days before expiry) and when a Rotate action is due. Invariant: a stored policy has
// passed Validate, so maintenance can evaluate it without re-checking.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Ironclad.KeyVault.Keys;

internal static class RotationSchedule
{
    public const string Rotate = "Rotate";
    public const string Notify = "Notify";

    public static readonly TimeSpan RotationMinimum = TimeSpan.FromDays(7);
    public static readonly TimeSpan ExpiryMinimum = TimeSpan.FromDays(28);
    public static readonly TimeSpan DurationMaximum = TimeSpan.FromDays(100 * 365);

    /// <summary>What GET returns for a key that never had a policy set (the cloud's default).</summary>
    public static RotationPolicy Default { get; } = new([new LifetimeAction(Notify, null, "P30D")], null, null, null);

    /// <summary>The policy in canonical form, or 400 BadParameter. An empty action list means "back to the default".</summary>
    public static RotationPolicy Validate(RotationPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(policy);
        Iso8601Duration? expiry = null;
        if (policy.ExpiryTime is not null)
        {
            expiry = Check(policy.ExpiryTime, "expiryTime");
            if (expiry.Approximate < ExpiryMinimum)
            {
                throw KeyVaultException.BadParameter($"The expiryTime '{policy.ExpiryTime}' is too short: a rotation policy's expiry time must be at least 28 days (P28D).");
            }
        }

        var requested = policy.LifetimeActions ?? [];
        if (requested.Count == 0)
        {
            return policy with { LifetimeActions = expiry is null ? [] : Default.LifetimeActions };
        }

        if (requested.Count > 2)
        {
            throw KeyVaultException.BadParameter("A rotation policy has at most two lifetime actions: one Rotate and one Notify.");
        }

        var actions = new List<LifetimeAction>();
        foreach (var action in requested)
        {
            var type = string.Equals(action.ActionType, Rotate, StringComparison.OrdinalIgnoreCase) ? Rotate
                : string.Equals(action.ActionType, Notify, StringComparison.OrdinalIgnoreCase) ? Notify
                : throw KeyVaultException.BadParameter($"The lifetime action type '{action.ActionType}' is not valid. Valid types are Rotate and Notify.");
            if (actions.Any(a => a.ActionType == type))
            {
                throw KeyVaultException.BadParameter($"A rotation policy can have only one {type} action.");
            }

            if ((action.TimeAfterCreate is null) == (action.TimeBeforeExpiry is null))
            {
                throw KeyVaultException.BadParameter($"The {type} action's trigger must set exactly one of timeAfterCreate and timeBeforeExpiry.");
            }

            if (action.TimeAfterCreate is { } afterCreate)
            {
                var duration = Check(afterCreate, "timeAfterCreate");
                if (duration.Approximate < RotationMinimum)
                {
                    throw KeyVaultException.BadParameter($"The timeAfterCreate '{afterCreate}' is too short: it must be at least 7 days (P7D).");
                }

                if (expiry is not null && duration.Approximate > expiry.Approximate - RotationMinimum)
                {
                    throw KeyVaultException.BadParameter(
                        $"The timeAfterCreate '{afterCreate}' must be at least 7 days shorter than the expiryTime '{policy.ExpiryTime}'.");
                }
            }

            if (action.TimeBeforeExpiry is { } beforeExpiry)
            {
                var duration = Check(beforeExpiry, "timeBeforeExpiry");
                if (expiry is null)
                {
                    throw KeyVaultException.BadParameter("A timeBeforeExpiry trigger requires the policy's expiryTime to be set.");
                }

                if (duration.Approximate < RotationMinimum)
                {
                    throw KeyVaultException.BadParameter($"The timeBeforeExpiry '{beforeExpiry}' is too short: it must be at least 7 days (P7D).");
                }

                if (duration.Approximate > expiry.Approximate - RotationMinimum)
                {
                    throw KeyVaultException.BadParameter(
                        $"The timeBeforeExpiry '{beforeExpiry}' must be at least 7 days shorter than the expiryTime '{policy.ExpiryTime}'.");
                }
            }

            actions.Add(new LifetimeAction(type, action.TimeAfterCreate, action.TimeBeforeExpiry));
        }

        return policy with { LifetimeActions = actions };
    }

    /// <summary>When the policy's Rotate action falls due for a key whose latest version is <paramref name="latest"/>; null = never.</summary>
    public static DateTimeOffset? RotationDue(RotationPolicy policy, KeyAttributes latest)
    {
        var rotate = policy.LifetimeActions.FirstOrDefault(a => a.ActionType == Rotate);
        if (rotate is null)
        {
            return null;
        }

        if (rotate.TimeAfterCreate is { } afterCreate && Iso8601Duration.TryParse(afterCreate, out var sinceCreate))
        {
            return sinceCreate.AddTo(latest.Created);
        }

        if (rotate.TimeBeforeExpiry is { } beforeExpiry && latest.Expires is { } exp && Iso8601Duration.TryParse(beforeExpiry, out var untilExpiry))
        {
            return untilExpiry.SubtractFrom(exp);
        }

        return null;
    }

    /// <summary>The exp a new version gets under <paramref name="policy"/> (null when it sets no expiry time).</summary>
    public static DateTimeOffset? NewVersionExpiry(RotationPolicy? policy, DateTimeOffset created) =>
        policy?.ExpiryTime is { } expiry && Iso8601Duration.TryParse(expiry, out var duration) ? duration.AddTo(created) : null;

    public static string? ToJson(RotationPolicy? policy) =>
        policy is null ? null : JsonSerializer.Serialize(new StoredPolicy(
            [.. policy.LifetimeActions.Select(a => new StoredAction(a.ActionType, a.TimeAfterCreate, a.TimeBeforeExpiry))],
            policy.ExpiryTime,
            SqliteKeyStore.Ms(policy.Created),
            SqliteKeyStore.Ms(policy.Updated)));

    public static RotationPolicy? FromJson(string? json)
    {
        if (json is null)
        {
            return null;
        }

        var stored = JsonSerializer.Deserialize<StoredPolicy>(json)!;
        return new RotationPolicy(
            [.. stored.Actions.Select(a => new LifetimeAction(a.Type, a.TimeAfterCreate, a.TimeBeforeExpiry))],
            stored.ExpiryTime,
            stored.CreatedMs is { } created ? DateTimeOffset.FromUnixTimeMilliseconds(created) : null,
            stored.UpdatedMs is { } updated ? DateTimeOffset.FromUnixTimeMilliseconds(updated) : null);
    }

    private static Iso8601Duration Check(string text, string field)
    {
        var duration = Iso8601Duration.Parse(text, field);
        if (duration.Approximate > DurationMaximum)
        {
            throw KeyVaultException.BadParameter($"The {field} '{text}' is too long: durations are limited to 100 years.");
        }

        return duration;
    }

    private sealed record StoredAction(
        [property: JsonPropertyName("type")] string Type,
        [property: JsonPropertyName("timeAfterCreate")] string? TimeAfterCreate,
        [property: JsonPropertyName("timeBeforeExpiry")] string? TimeBeforeExpiry);

    private sealed record StoredPolicy(
        [property: JsonPropertyName("actions")] IReadOnlyList<StoredAction> Actions,
        [property: JsonPropertyName("expiryTime")] string? ExpiryTime,
        [property: JsonPropertyName("createdMs")] long? CreatedMs,
        [property: JsonPropertyName("updatedMs")] long? UpdatedMs);
}
