// The storage data unit: the granule of encryption (one XTS data unit, one tweak).
namespace Ironclad.Crypto.Xts;

public static class DataUnit
{
    public const int SizeBytes = 4096;
    public const int SizeLog2 = 12;
}
