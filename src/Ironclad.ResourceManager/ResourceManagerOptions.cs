// Settings of the Resource Manager role: the page size of every list (tests use small pages to
// exercise nextLink), and the audiences a management token may carry besides this server's own URL.
namespace Ironclad.ResourceManager;

public sealed class ResourceManagerOptions
{
    public const int DefaultPageSize = 100;

    /// <summary>Items per page of every ARM list before a nextLink is emitted (≥ 1).</summary>
    public int PageSize { get; init; } = DefaultPageSize;

    /// <summary>Token audiences accepted for management calls, compared without a trailing slash, case-insensitively.</summary>
    public IReadOnlyList<string> Audiences { get; init; } = ["https://management.azure.com", "https://management.core.windows.net"];
}
