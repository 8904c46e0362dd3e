package mariadbtest

import "fmt"

// The bench's table, also used by the tests that measure or compare at
// its scale: 11 columns of the types users sync (a BIGINT UNSIGNED key,
// utf8mb4 names with emoji, an indexed e-mail, DECIMAL, a nullable DOUBLE,
// TINYINT(1), DATETIME(6), a nullable DATE, TEXT with tabs, newlines,
// backslashes and quotes, JSON, VARBINARY).

// ItemsDDL creates the table items.
const ItemsDDL = `CREATE TABLE items (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  email VARCHAR(255) NOT NULL,
  amount DECIMAL(18,4) NOT NULL,
  score DOUBLE NULL,
  active TINYINT(1) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  birthday DATE NULL,
  notes TEXT NULL,
  attrs JSON NULL,
  avatar VARBINARY(64) NULL,
  KEY email_idx (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`

// ItemsInsert fills items with rows 1…n, deterministically: the same rows
// for the same n (MariaDB's seq engine).
func ItemsInsert(n int) string { return fmt.Sprintf(itemsInsert, n) }

const itemsInsert = `INSERT INTO items SELECT
  seq,
  CONCAT(ELT(1 + seq %% 5, 'Ana', 'Björn', 'Chloé', 'Dmitri', 'Eve 🚀'), ' ', seq),
  CONCAT('user', seq, '@example.com'),
  (seq * 7919 %% 100000000) / 10000,
  IF(seq %% 10 = 0, NULL, seq / 7e0),
  seq %% 2,
  TIMESTAMPADD(MICROSECOND, seq * 1234567, '2020-01-01 00:00:00'),
  IF(seq %% 4 = 0, NULL, DATE_ADD('1950-01-01', INTERVAL seq %% 20000 DAY)),
  IF(seq %% 3 = 0, NULL, CONCAT('note ', seq, '\t"tab"\nline\\', REPEAT('x', seq %% 60), '''q''')),
  IF(seq %% 5 = 0, NULL, JSON_OBJECT('k', seq, 'tags', JSON_ARRAY('a', 'b'))),
  IF(seq %% 6 = 0, NULL, UNHEX(SHA2(seq, 256)))
FROM seq_1_to_%d`
