// ARM resource ids and scopes: parse what clients send (any casing, `//` prefixes), format the
// canonical form we answer with, and walk a scope's ancestry (resource → parents → resource group →
// subscription → "/"). Invariant: two ids that name the same thing compare equal whatever their
// casing, and ToString() of a parsed id is always the canonical form.
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Ironclad.ResourceManager.Ids;

public sealed class ResourceId : IEquatable<ResourceId>
{
    /// <summary>The root scope "/" (tenant root): ancestor of everything.</summary>
    public static readonly ResourceId Root = new([]);

    private readonly string[] _segments;
    private readonly string _canonical;

    private ResourceId(string[] segments)
    {
        _segments = segments;
        _canonical = segments.Length == 0 ? "/" : "/" + string.Join('/', segments);
    }

    /// <summary>The segments of the canonical form (no empty ones).</summary>
    public IReadOnlyList<string> Segments => _segments;

    /// <summary>The subscription, if the id lies under /subscriptions/{guid}.</summary>
    public Guid? SubscriptionId =>
        _segments.Length >= 2 && _segments[0] == "subscriptions" && Guid.TryParse(_segments[1], out var sub) ? sub : null;

    /// <summary>The resource group name (as given), if the id lies under one.</summary>
    public string? ResourceGroup =>
        _segments.Length >= 4 && _segments[2] == "resourceGroups" ? _segments[3] : null;

    public bool IsRoot => _segments.Length == 0;

    public bool IsSubscription => _segments.Length == 2 && SubscriptionId is not null;

    public bool IsResourceGroup => _segments.Length == 4 && ResourceGroup is not null;

    /// <summary>The last provider namespace in the id (extension resources: the extension's), or null.</summary>
    public string? ProviderNamespace
    {
        get
        {
            for (var i = _segments.Length - 2; i >= 0; i--)
            {
                if (_segments[i] == "providers")
                {
                    return _segments[i + 1];
                }
            }

            return null;
        }
    }

    /// <summary>
    /// The resource type, e.g. "Microsoft.KeyVault/vaults" or "Microsoft.KeyVault/vaults/keys",
    /// "Microsoft.Resources/resourceGroups", "Microsoft.Resources/subscriptions"; "/" for the root.
    /// </summary>
    public string ResourceType
    {
        get
        {
            if (IsRoot)
            {
                return "/";
            }

            if (IsSubscription)
            {
                return "Microsoft.Resources/subscriptions";
            }

            if (IsResourceGroup)
            {
                return "Microsoft.Resources/resourceGroups";
            }

            var last = Array.LastIndexOf(_segments, "providers");
            if (last < 0 || last + 1 >= _segments.Length)
            {
                return string.Join('/', _segments);
            }

            var types = new List<string> { _segments[last + 1] };
            for (var i = last + 2; i < _segments.Length; i += 2)
            {
                types.Add(_segments[i]);
            }

            return string.Join('/', types);
        }
    }

    /// <summary>The last segment (the resource's name), or "" for the root.</summary>
    public string Name => _segments.Length == 0 ? "" : _segments[^1];

    /// <summary>
    /// The enclosing scope: a child resource's parent resource, a top-level resource's (or an
    /// extension resource's) scope, the group's subscription, the subscription's root; null for the root.
    /// </summary>
    public ResourceId? Parent
    {
        get
        {
            if (IsRoot)
            {
                return null;
            }

            var n = _segments.Length;
            // .../providers/{ns}/{type}/{name}: the scope before "providers".
            if (n >= 4 && _segments[n - 4] == "providers")
            {
                return new ResourceId(_segments[..(n - 4)]);
            }

            // a child resource, a group, a subscription: drop {type}/{name}.
            return n >= 2 ? new ResourceId(_segments[..(n - 2)]) : Root;
        }
    }

    /// <summary>This scope, then each ancestor up to and including "/".</summary>
    public IEnumerable<ResourceId> SelfAndAncestors()
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
        {
            yield return scope;
        }
    }

    /// <summary>True when this scope is <paramref name="other"/> or one of its ancestors.</summary>
    public bool Contains(ResourceId other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return other.SelfAndAncestors().Any(Equals);
    }

    /// <summary>A child id: this + segments (canonicalized).</summary>
    public ResourceId Append(params string[] segments)
    {
        ArgumentNullException.ThrowIfNull(segments);
        return Parse(_canonical.TrimEnd('/') + "/" + string.Join('/', segments));
    }

    public static ResourceId ForSubscription(Guid subscriptionId) =>
        new(["subscriptions", subscriptionId.ToString("D", CultureInfo.InvariantCulture)]);

    public static ResourceId ForResourceGroup(Guid subscriptionId, string resourceGroup) =>
        new(["subscriptions", subscriptionId.ToString("D", CultureInfo.InvariantCulture), "resourceGroups", resourceGroup]);

    /// <summary>Parses an id; throws FormatException when it is not one.</summary>
    public static ResourceId Parse(string value) =>
        TryParse(value, out var id) ? id : throw new FormatException($"'{value}' is not a valid resource id.");

    /// <summary>
    /// Accepts "/", "/subscriptions/{guid}[/resourceGroups/{rg}][/providers/{ns}/{type}/{name}[/{type}/{name}]...]"
    /// and extension forms ({scope}/providers/{ns}/{type}/{name}), any casing, leading "//" or no leading
    /// slash, a trailing slash. Known segment names are canonicalized; names keep their casing.
    /// </summary>
    public static bool TryParse(string? value, [NotNullWhen(true)] out ResourceId? id)
    {
        id = null;
        if (value is null)
        {
            return false;
        }

        var parts = value.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0)
        {
            id = Root;
            return value.Length > 0;
        }

        var segments = new string[parts.Length];
        var i = 0;
        if (parts[0].Equals("subscriptions", StringComparison.OrdinalIgnoreCase))
        {
            if (parts.Length < 2 || !Guid.TryParse(parts[1], out var sub))
            {
                return false;
            }

            segments[0] = "subscriptions";
            segments[1] = sub.ToString("D", CultureInfo.InvariantCulture);
            i = 2;
            if (parts.Length > 2 && parts[2].Equals("resourceGroups", StringComparison.OrdinalIgnoreCase))
            {
                if (parts.Length < 4)
                {
                    return false;
                }

                segments[2] = "resourceGroups";
                segments[3] = parts[3];
                i = 4;
            }
        }

        // The rest: providers/{ns}/{type}/{name}[/{type}/{name}]... possibly repeated (extension resources).
        while (i < parts.Length)
        {
            if (!parts[i].Equals("providers", StringComparison.OrdinalIgnoreCase) || i + 1 >= parts.Length)
            {
                return false;
            }

            segments[i] = "providers";
            segments[i + 1] = KnownNames.Canonical(parts[i + 1]);
            i += 2;
            // type/name pairs until the next "providers" (a type is never called "providers").
            while (i < parts.Length && !parts[i].Equals("providers", StringComparison.OrdinalIgnoreCase))
            {
                if (i + 1 >= parts.Length)
                {
                    return false;
                }

                segments[i] = KnownNames.Canonical(parts[i]);
                segments[i + 1] = parts[i + 1];
                i += 2;
            }

            if (segments[i - 1] is null || segments[i - 2] == "providers")
            {
                return false; // "providers/{ns}" with no type/name pair
            }
        }

        id = new ResourceId(segments);
        return true;
    }

    public bool Equals(ResourceId? other) =>
        other is not null && string.Equals(_canonical, other._canonical, StringComparison.OrdinalIgnoreCase);

    public override bool Equals(object? obj) => Equals(obj as ResourceId);

    public override int GetHashCode() => StringComparer.OrdinalIgnoreCase.GetHashCode(_canonical);

    /// <summary>The canonical form.</summary>
    public override string ToString() => _canonical;

    /// <summary>The form used as a case-insensitive key in stores (upper-invariant).</summary>
    public string Key => _canonical.ToUpperInvariant();

    public static bool operator ==(ResourceId? left, ResourceId? right) => left is null ? right is null : left.Equals(right);

    public static bool operator !=(ResourceId? left, ResourceId? right) => !(left == right);
}
