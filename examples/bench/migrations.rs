//! The 200 small migrations of the runner benchmark, written once through a `macro_rules!` so the
//! zerodown and sqlx sides apply exactly the same statements (the sqlx side is built from these
//! migrations' generated SQL at run time).

/// One small migration per line: module, table, index. Each creates a table and indexes it.
macro_rules! small_migrations {
    ($($module:ident $table:ident $index:ident;)*) => {
        $(
            zerodown::migration! {
                pub mod $module {
                    create table $table (
                        id bigint generated always as identity primary key,
                        name text not null,
                        created_at timestamptz not null default now()
                    );
                    create index $index on $table (name);
                }
            }
        )*

        /// The migrations, in version order.
        pub static MIGRATIONS: &[&zerodown::Migration] = &[$(&$module::MIGRATION),*];
    };
}

small_migrations! {
    m0001_t0001 t0001 t0001_name_idx;
    m0002_t0002 t0002 t0002_name_idx;
    m0003_t0003 t0003 t0003_name_idx;
    m0004_t0004 t0004 t0004_name_idx;
    m0005_t0005 t0005 t0005_name_idx;
    m0006_t0006 t0006 t0006_name_idx;
    m0007_t0007 t0007 t0007_name_idx;
    m0008_t0008 t0008 t0008_name_idx;
    m0009_t0009 t0009 t0009_name_idx;
    m0010_t0010 t0010 t0010_name_idx;
    m0011_t0011 t0011 t0011_name_idx;
    m0012_t0012 t0012 t0012_name_idx;
    m0013_t0013 t0013 t0013_name_idx;
    m0014_t0014 t0014 t0014_name_idx;
    m0015_t0015 t0015 t0015_name_idx;
    m0016_t0016 t0016 t0016_name_idx;
    m0017_t0017 t0017 t0017_name_idx;
    m0018_t0018 t0018 t0018_name_idx;
    m0019_t0019 t0019 t0019_name_idx;
    m0020_t0020 t0020 t0020_name_idx;
    m0021_t0021 t0021 t0021_name_idx;
    m0022_t0022 t0022 t0022_name_idx;
    m0023_t0023 t0023 t0023_name_idx;
    m0024_t0024 t0024 t0024_name_idx;
    m0025_t0025 t0025 t0025_name_idx;
    m0026_t0026 t0026 t0026_name_idx;
    m0027_t0027 t0027 t0027_name_idx;
    m0028_t0028 t0028 t0028_name_idx;
    m0029_t0029 t0029 t0029_name_idx;
    m0030_t0030 t0030 t0030_name_idx;
    m0031_t0031 t0031 t0031_name_idx;
    m0032_t0032 t0032 t0032_name_idx;
    m0033_t0033 t0033 t0033_name_idx;
    m0034_t0034 t0034 t0034_name_idx;
    m0035_t0035 t0035 t0035_name_idx;
    m0036_t0036 t0036 t0036_name_idx;
    m0037_t0037 t0037 t0037_name_idx;
    m0038_t0038 t0038 t0038_name_idx;
    m0039_t0039 t0039 t0039_name_idx;
    m0040_t0040 t0040 t0040_name_idx;
    m0041_t0041 t0041 t0041_name_idx;
    m0042_t0042 t0042 t0042_name_idx;
    m0043_t0043 t0043 t0043_name_idx;
    m0044_t0044 t0044 t0044_name_idx;
    m0045_t0045 t0045 t0045_name_idx;
    m0046_t0046 t0046 t0046_name_idx;
    m0047_t0047 t0047 t0047_name_idx;
    m0048_t0048 t0048 t0048_name_idx;
    m0049_t0049 t0049 t0049_name_idx;
    m0050_t0050 t0050 t0050_name_idx;
    m0051_t0051 t0051 t0051_name_idx;
    m0052_t0052 t0052 t0052_name_idx;
    m0053_t0053 t0053 t0053_name_idx;
    m0054_t0054 t0054 t0054_name_idx;
    m0055_t0055 t0055 t0055_name_idx;
    m0056_t0056 t0056 t0056_name_idx;
    m0057_t0057 t0057 t0057_name_idx;
    m0058_t0058 t0058 t0058_name_idx;
    m0059_t0059 t0059 t0059_name_idx;
    m0060_t0060 t0060 t0060_name_idx;
    m0061_t0061 t0061 t0061_name_idx;
    m0062_t0062 t0062 t0062_name_idx;
    m0063_t0063 t0063 t0063_name_idx;
    m0064_t0064 t0064 t0064_name_idx;
    m0065_t0065 t0065 t0065_name_idx;
    m0066_t0066 t0066 t0066_name_idx;
    m0067_t0067 t0067 t0067_name_idx;
    m0068_t0068 t0068 t0068_name_idx;
    m0069_t0069 t0069 t0069_name_idx;
    m0070_t0070 t0070 t0070_name_idx;
    m0071_t0071 t0071 t0071_name_idx;
    m0072_t0072 t0072 t0072_name_idx;
    m0073_t0073 t0073 t0073_name_idx;
    m0074_t0074 t0074 t0074_name_idx;
    m0075_t0075 t0075 t0075_name_idx;
    m0076_t0076 t0076 t0076_name_idx;
    m0077_t0077 t0077 t0077_name_idx;
    m0078_t0078 t0078 t0078_name_idx;
    m0079_t0079 t0079 t0079_name_idx;
    m0080_t0080 t0080 t0080_name_idx;
    m0081_t0081 t0081 t0081_name_idx;
    m0082_t0082 t0082 t0082_name_idx;
    m0083_t0083 t0083 t0083_name_idx;
    m0084_t0084 t0084 t0084_name_idx;
    m0085_t0085 t0085 t0085_name_idx;
    m0086_t0086 t0086 t0086_name_idx;
    m0087_t0087 t0087 t0087_name_idx;
    m0088_t0088 t0088 t0088_name_idx;
    m0089_t0089 t0089 t0089_name_idx;
    m0090_t0090 t0090 t0090_name_idx;
    m0091_t0091 t0091 t0091_name_idx;
    m0092_t0092 t0092 t0092_name_idx;
    m0093_t0093 t0093 t0093_name_idx;
    m0094_t0094 t0094 t0094_name_idx;
    m0095_t0095 t0095 t0095_name_idx;
    m0096_t0096 t0096 t0096_name_idx;
    m0097_t0097 t0097 t0097_name_idx;
    m0098_t0098 t0098 t0098_name_idx;
    m0099_t0099 t0099 t0099_name_idx;
    m0100_t0100 t0100 t0100_name_idx;
    m0101_t0101 t0101 t0101_name_idx;
    m0102_t0102 t0102 t0102_name_idx;
    m0103_t0103 t0103 t0103_name_idx;
    m0104_t0104 t0104 t0104_name_idx;
    m0105_t0105 t0105 t0105_name_idx;
    m0106_t0106 t0106 t0106_name_idx;
    m0107_t0107 t0107 t0107_name_idx;
    m0108_t0108 t0108 t0108_name_idx;
    m0109_t0109 t0109 t0109_name_idx;
    m0110_t0110 t0110 t0110_name_idx;
    m0111_t0111 t0111 t0111_name_idx;
    m0112_t0112 t0112 t0112_name_idx;
    m0113_t0113 t0113 t0113_name_idx;
    m0114_t0114 t0114 t0114_name_idx;
    m0115_t0115 t0115 t0115_name_idx;
    m0116_t0116 t0116 t0116_name_idx;
    m0117_t0117 t0117 t0117_name_idx;
    m0118_t0118 t0118 t0118_name_idx;
    m0119_t0119 t0119 t0119_name_idx;
    m0120_t0120 t0120 t0120_name_idx;
    m0121_t0121 t0121 t0121_name_idx;
    m0122_t0122 t0122 t0122_name_idx;
    m0123_t0123 t0123 t0123_name_idx;
    m0124_t0124 t0124 t0124_name_idx;
    m0125_t0125 t0125 t0125_name_idx;
    m0126_t0126 t0126 t0126_name_idx;
    m0127_t0127 t0127 t0127_name_idx;
    m0128_t0128 t0128 t0128_name_idx;
    m0129_t0129 t0129 t0129_name_idx;
    m0130_t0130 t0130 t0130_name_idx;
    m0131_t0131 t0131 t0131_name_idx;
    m0132_t0132 t0132 t0132_name_idx;
    m0133_t0133 t0133 t0133_name_idx;
    m0134_t0134 t0134 t0134_name_idx;
    m0135_t0135 t0135 t0135_name_idx;
    m0136_t0136 t0136 t0136_name_idx;
    m0137_t0137 t0137 t0137_name_idx;
    m0138_t0138 t0138 t0138_name_idx;
    m0139_t0139 t0139 t0139_name_idx;
    m0140_t0140 t0140 t0140_name_idx;
    m0141_t0141 t0141 t0141_name_idx;
    m0142_t0142 t0142 t0142_name_idx;
    m0143_t0143 t0143 t0143_name_idx;
    m0144_t0144 t0144 t0144_name_idx;
    m0145_t0145 t0145 t0145_name_idx;
    m0146_t0146 t0146 t0146_name_idx;
    m0147_t0147 t0147 t0147_name_idx;
    m0148_t0148 t0148 t0148_name_idx;
    m0149_t0149 t0149 t0149_name_idx;
    m0150_t0150 t0150 t0150_name_idx;
    m0151_t0151 t0151 t0151_name_idx;
    m0152_t0152 t0152 t0152_name_idx;
    m0153_t0153 t0153 t0153_name_idx;
    m0154_t0154 t0154 t0154_name_idx;
    m0155_t0155 t0155 t0155_name_idx;
    m0156_t0156 t0156 t0156_name_idx;
    m0157_t0157 t0157 t0157_name_idx;
    m0158_t0158 t0158 t0158_name_idx;
    m0159_t0159 t0159 t0159_name_idx;
    m0160_t0160 t0160 t0160_name_idx;
    m0161_t0161 t0161 t0161_name_idx;
    m0162_t0162 t0162 t0162_name_idx;
    m0163_t0163 t0163 t0163_name_idx;
    m0164_t0164 t0164 t0164_name_idx;
    m0165_t0165 t0165 t0165_name_idx;
    m0166_t0166 t0166 t0166_name_idx;
    m0167_t0167 t0167 t0167_name_idx;
    m0168_t0168 t0168 t0168_name_idx;
    m0169_t0169 t0169 t0169_name_idx;
    m0170_t0170 t0170 t0170_name_idx;
    m0171_t0171 t0171 t0171_name_idx;
    m0172_t0172 t0172 t0172_name_idx;
    m0173_t0173 t0173 t0173_name_idx;
    m0174_t0174 t0174 t0174_name_idx;
    m0175_t0175 t0175 t0175_name_idx;
    m0176_t0176 t0176 t0176_name_idx;
    m0177_t0177 t0177 t0177_name_idx;
    m0178_t0178 t0178 t0178_name_idx;
    m0179_t0179 t0179 t0179_name_idx;
    m0180_t0180 t0180 t0180_name_idx;
    m0181_t0181 t0181 t0181_name_idx;
    m0182_t0182 t0182 t0182_name_idx;
    m0183_t0183 t0183 t0183_name_idx;
    m0184_t0184 t0184 t0184_name_idx;
    m0185_t0185 t0185 t0185_name_idx;
    m0186_t0186 t0186 t0186_name_idx;
    m0187_t0187 t0187 t0187_name_idx;
    m0188_t0188 t0188 t0188_name_idx;
    m0189_t0189 t0189 t0189_name_idx;
    m0190_t0190 t0190 t0190_name_idx;
    m0191_t0191 t0191 t0191_name_idx;
    m0192_t0192 t0192 t0192_name_idx;
    m0193_t0193 t0193 t0193_name_idx;
    m0194_t0194 t0194 t0194_name_idx;
    m0195_t0195 t0195 t0195_name_idx;
    m0196_t0196 t0196 t0196_name_idx;
    m0197_t0197 t0197 t0197_name_idx;
    m0198_t0198 t0198 t0198_name_idx;
    m0199_t0199 t0199 t0199_name_idx;
    m0200_t0200 t0200 t0200_name_idx;
}
